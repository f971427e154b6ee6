// Package core is what the gateway's public APIs share: submitting
// (validation against the maximums, in-flight caps, callbacks), waiting,
// looking up, canceling and listing submissions, the Caller and its API key,
// rate limits, the mapping of errors to problems, request decoding, and the
// route type from which the OpenAPI document is generated.
//
// Each public API (roles/gateway/native, judge0, piston) is a package that
// depends on this one and on the wire types in pkg/, never on another API
// or on the gateway role: it converts its own request shape into an Input,
// hands it to the Service, and renders job.Submission in its own shape. The
// gateway role builds the Service and the APIs and mounts their routes.
package core

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/store"
)

// APINative is the name of the native API: the default of
// job.Compat.API, the metrics label and the callback renderer of requests
// that carry no compatibility API.
const APINative = "native"

// Config is what the core needs of the gateway's configuration. The role
// passes its validated configuration with every default applied; the core
// applies none of its own.
type Config struct {
	// APIKeys is a comma-separated list of "id:sha256hex" pairs or raw keys
	// (hashed at start; only hashes are kept). When the store keeps keys
	// too (store.KeyStore), presented keys not in this list are looked up
	// there. The gateway is open only while neither has any key (auth.go).
	APIKeys string
	// APIKeyCacheTTL is how long answers of store key lookups are cached
	// (found and not found): a revoked key stops working within it.
	APIKeyCacheTTL time.Duration
	// RateLimit is the sustained number of submissions per second per key
	// (0 disables rate limiting); the bucket size is the gateway's --rate-burst.
	RateLimit float64
	// MaxInFlight caps the unfinished submissions of one key (0: no cap).
	MaxInFlight int

	// MaxWait bounds ?wait=true, /v1/execute, Judge0 wait and Piston execute.
	MaxWait time.Duration
	// Request maximums.
	MaxBodyBytes     int64
	MaxFiles         int
	MaxSourceBytes   int64
	MaxStdinBytes    int64
	MaxArgs          int
	MaxTests         int
	MaxBatch         int
	MaxMetadataBytes int
	// MaxLimits caps the limits a request may ask for.
	MaxLimits job.Limits

	// CallbackAllowPrivate lets callbacks reach loopback, private and
	// link-local addresses (tests, trusted networks).
	CallbackAllowPrivate bool
	// CallbackAttempts bounds delivery attempts; CallbackBackoff is the first
	// retry delay, doubled each time up to CallbackMaxBackoff.
	CallbackAttempts   int
	CallbackBackoff    time.Duration
	CallbackMaxBackoff time.Duration
	CallbackTimeout    time.Duration
	// MaxPendingCallbacks caps the callbacks this gateway delivers at once
	// (the rest wait on the queue's callbacks feed).
	MaxPendingCallbacks int
	// CallbackConsumer names this gateway on the callbacks feed: a gateway
	// that restarts under the same name takes up at once the callbacks it
	// held (others take them over after the feed's redelivery time). Give
	// each gateway its own.
	CallbackConsumer string

	// Heartbeat is the interval of keep-alive comments on event streams.
	Heartbeat time.Duration

	// LiveIdleTimeout ends an interactive session without input and
	// output for that long; LiveMaxSession is its longest length (its wall
	// time limit).
	LiveIdleTimeout time.Duration
	LiveMaxSession  time.Duration
}

// Deps are the core's collaborators; Queue, Store and Catalog are required.
type Deps struct {
	Queue   queue.Queue
	Store   store.Store
	Catalog *catalog.Catalog
	// Live carries live output and input (nil: no streaming, no
	// interactive runs).
	Live live.Hub
	// Limiter is the rate limiter; nil disables rate limiting.
	Limiter Limiter
	// Clock replaces time.Now (tests).
	Clock func() time.Time
	// CallbackOutcome, when set, is told each callback's outcome
	// (delivered, failed, abandoned) beside the metric (tests).
	CallbackOutcome func(outcome string)
}

// API is how a public API names itself to the core: its name labels
// metrics, and WriteProblem renders problems in its shape (nil: RFC 9457
// problem+json).
type API struct {
	Name         string
	WriteProblem func(w http.ResponseWriter, req *http.Request, p httpx.Problem)
}

// Service is the gateway core. Its methods are safe for concurrent use; the
// renderers are registered before Work starts.
type Service struct {
	cfg      Config
	log      *slog.Logger
	queue    queue.Queue
	live     live.Hub
	store    store.Store
	catalog  *catalog.Catalog
	keys     *keyring
	limiter  Limiter
	inflight *inflight
	cb       *callbacks
	metrics  *metrics
	now      func() time.Time
	probes   map[string]httpx.Check
	// storeKeys looks up keys kept in the store; nil when it keeps none.
	storeKeys *storeKeys
}

// New builds the core over validated configuration.
func New(cfg Config, log *slog.Logger, deps Deps) (*Service, error) {
	if deps.Queue == nil || deps.Store == nil || deps.Catalog == nil {
		return nil, fmt.Errorf("gateway core: queue, store and catalog are required")
	}
	keys, err := parseAPIKeys(cfg.APIKeys)
	if err != nil {
		return nil, fmt.Errorf("gateway core: %w", err)
	}
	s := &Service{
		cfg:      cfg,
		log:      log,
		queue:    deps.Queue,
		live:     deps.Live,
		store:    deps.Store,
		catalog:  deps.Catalog,
		keys:     keys,
		limiter:  deps.Limiter,
		inflight: newInflight(),
		metrics:  newMetrics(),
		now:      time.Now,
		probes:   map[string]httpx.Check{},
	}
	if deps.Clock != nil {
		s.now = deps.Clock
	}
	s.cb = newCallbacks(cfg, log, s.queue, s.store)
	s.cb.outcome = func(o string) {
		s.metrics.callbacks.WithLabelValues(o).Inc()
		if deps.CallbackOutcome != nil {
			deps.CallbackOutcome(o)
		}
	}
	if ks, ok := s.store.(store.KeyStore); ok {
		s.storeKeys = newStoreKeys(ks, cfg.APIKeyCacheTTL, func() time.Time { return s.now() }, log)
		if keys.empty() {
			// Not ready while it cannot tell whether a key is required.
			s.probes["api keys"] = func(ctx context.Context) error {
				_, err := s.storeKeys.open(ctx)
				return err
			}
		}
	}
	return s, nil
}

// Config returns the configuration (API packages read their maximums).
func (s *Service) Config() Config { return s.cfg }

// Catalog returns the language catalog.
func (s *Service) Catalog() *catalog.Catalog { return s.catalog }

// QueueStats reports the queue's depth, leases, dead letters and length cap
// (Judge0's /workers and config_info).
func (s *Service) QueueStats(ctx context.Context) (queue.Stats, error) { return s.queue.Stats(ctx) }

// StoreStats summarises the stored submissions finished since t (Judge0's
// /statistics).
func (s *Service) StoreStats(ctx context.Context, since time.Time) (store.Stats, error) {
	return s.store.Stats(ctx, since)
}

// Probes returns the core's readiness checks by name.
func (s *Service) Probes() map[string]httpx.Check { return s.probes }

// RegisterMetrics adds the gateway's metrics to reg.
func (s *Service) RegisterMetrics(reg prometheus.Registerer) { s.metrics.register(reg) }

// Reject counts a refused request under reason (execbox_gateway_rejected_total).
func (s *Service) Reject(reason string) { s.metrics.rejected.WithLabelValues(reason).Inc() }

// Work logs the API key rule in force, then delivers callbacks until ctx
// ends.
func (s *Service) Work(ctx context.Context) error {
	s.logAuthRule(ctx)
	return s.cb.run(ctx)
}
