// Package worker is the worker role: it leases jobs from the queue, runs
// them on executors and reports the results.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/lifecycle"
)

// Config configures the worker role.
type Config struct {
	Addr         string
	QueueURL     string
	ExecutorURLs []string
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.QueueURL == "" {
		return errors.New("worker: EXECBOX_QUEUE_URL (--queue-url) is required")
	}
	if len(c.ExecutorURLs) == 0 {
		return errors.New("worker: EXECBOX_EXECUTOR_URLS (--executor-urls) is required")
	}
	return nil
}

// Role is the worker role.
type Role struct {
	cfg Config
	log *slog.Logger
	hc  *http.Client
}

// New builds the role.
func New(cfg Config, log *slog.Logger) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Role{cfg: cfg, log: log, hc: &http.Client{Timeout: 5 * time.Second}}, nil
}

// Register adds the role's readiness checks and metrics to srv.
func (r *Role) Register(srv *httpx.Server) {
	srv.AddCheck("queue", httpx.HealthCheck(r.hc, r.cfg.QueueURL))
	for _, u := range r.cfg.ExecutorURLs {
		srv.AddCheck("executor "+u, httpx.HealthCheck(r.hc, u))
	}
}

// Work runs the lease loops until ctx ends.
func (r *Role) Work(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Run serves health and metrics and runs the lease loops until ctx ends.
func (r *Role) Run(ctx context.Context) error {
	srv := httpx.NewServer(httpx.Config{Addr: r.cfg.Addr}, r.log)
	r.Register(srv)
	return lifecycle.Run(ctx, r.log,
		lifecycle.Named{Name: "worker", Service: lifecycle.Func(r.Work)},
		lifecycle.Named{Name: "http", Service: srv})
}
