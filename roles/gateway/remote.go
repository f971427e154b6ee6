package gateway

import (
	"errors"
	"net/http"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/queue/queuehttp"
	"github.com/execbox/app/pkg/store/storehttp"
)

// remoteDeps builds HTTP clients of the queue and storage roles for the
// dependencies not given, and readiness checks of those roles.
func (r *Role) remoteDeps() error {
	// One pooled transport for both; no client timeout, because watches and
	// waits last as long as their context allows.
	hc := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}}
	if r.queue == nil {
		if r.cfg.QueueURL == "" {
			return errors.New("gateway: EXECBOX_QUEUE_URL (--queue-url) is required")
		}
		r.queue = queuehttp.NewClient(r.cfg.QueueURL, hc).WithToken(r.cfg.InternalToken)
		r.probes["queue"] = httpx.HealthCheck(r.hc, r.cfg.QueueURL)
	}
	if r.store == nil {
		if r.cfg.StorageURL == "" {
			return errors.New("gateway: EXECBOX_STORAGE_URL (--storage-url) is required")
		}
		r.store = storehttp.NewClient(r.cfg.StorageURL, hc).WithToken(r.cfg.InternalToken)
		r.probes["storage"] = httpx.HealthCheck(r.hc, r.cfg.StorageURL)
	}
	return nil
}
