// Package executor is the executor role: it runs jobs in hardened Docker
// sandboxes and serves them to workers over its internal HTTP API.
package executor

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/docker/docker/client"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/lifecycle"
)

// Config configures the executor role.
type Config struct {
	Addr string
	// DockerHost overrides DOCKER_HOST when set.
	DockerHost string
}

// Validate checks the configuration.
func (c Config) Validate() error { return nil }

// Role is the executor role.
type Role struct {
	cfg    Config
	log    *slog.Logger
	docker *client.Client
}

// New builds the role; it does not contact Docker yet.
func New(cfg Config, log *slog.Logger) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if cfg.DockerHost != "" {
		opts = append(opts, client.WithHost(cfg.DockerHost))
	}
	dc, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("executor: docker client: %w", err)
	}
	return &Role{cfg: cfg, log: log, docker: dc}, nil
}

// Register adds the role's readiness checks and metrics to srv.
func (r *Role) Register(srv *httpx.Server) {
	srv.AddCheck("docker", func(ctx context.Context) error {
		_, err := r.docker.Ping(ctx)
		return err
	})
}

// Mount adds the internal API routes to srv.
func (r *Role) Mount(srv *httpx.Server) {}

// Work runs the role's background loops until ctx ends.
func (r *Role) Work(ctx context.Context) error {
	<-ctx.Done()
	return r.docker.Close()
}

// Run serves the internal API and runs the background loops until ctx ends.
func (r *Role) Run(ctx context.Context) error {
	srv := httpx.NewServer(httpx.Config{Addr: r.cfg.Addr}, r.log)
	r.Register(srv)
	r.Mount(srv)
	return lifecycle.Run(ctx, r.log,
		lifecycle.Named{Name: "executor", Service: lifecycle.Func(r.Work)},
		lifecycle.Named{Name: "http", Service: srv})
}
