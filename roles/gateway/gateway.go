// Package gateway is the gateway role: the public HTTP API (native /v1,
// Judge0 and Piston compatible), auth, rate limits and docs.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/lifecycle"
)

// Config configures the gateway role.
type Config struct {
	Addr       string
	QueueURL   string
	StorageURL string
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.QueueURL == "" {
		return errors.New("gateway: EXECBOX_QUEUE_URL (--queue-url) is required")
	}
	if c.StorageURL == "" {
		return errors.New("gateway: EXECBOX_STORAGE_URL (--storage-url) is required")
	}
	return nil
}

// Role is the gateway role.
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
	srv.AddCheck("storage", httpx.HealthCheck(r.hc, r.cfg.StorageURL))
}

// Mount adds the public API routes to srv.
func (r *Role) Mount(srv *httpx.Server) {}

// Work runs background loops (callbacks) until ctx ends.
func (r *Role) Work(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Run serves the public API until ctx ends.
func (r *Role) Run(ctx context.Context) error {
	srv := httpx.NewServer(httpx.Config{Addr: r.cfg.Addr}, r.log)
	r.Register(srv)
	r.Mount(srv)
	return lifecycle.Run(ctx, r.log,
		lifecycle.Named{Name: "gateway", Service: lifecycle.Func(r.Work)},
		lifecycle.Named{Name: "http", Service: srv})
}
