// Package all runs every role in one process on one port, wired in-process.
package all

import (
	"context"
	"log/slog"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/lifecycle"
	"github.com/execbox/app/roles/executor"
)

// Config configures app all.
type Config struct {
	Addr     string
	Executor executor.Config
}

// Validate checks the configuration.
func (c Config) Validate() error { return c.Executor.Validate() }

// Role is the whole service in one process.
type Role struct {
	cfg      Config
	log      *slog.Logger
	executor *executor.Role
}

// New builds every role.
func New(cfg Config, log *slog.Logger) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ex, err := executor.New(cfg.Executor, log.With("component", "executor"))
	if err != nil {
		return nil, err
	}
	return &Role{cfg: cfg, log: log, executor: ex}, nil
}

// Run starts the roles in dependency order and serves until ctx ends.
func (r *Role) Run(ctx context.Context) error {
	srv := httpx.NewServer(httpx.Config{Addr: r.cfg.Addr}, r.log)
	r.executor.Register(srv)
	return lifecycle.Run(ctx, r.log,
		lifecycle.Named{Name: "executor", Service: lifecycle.Func(r.executor.Work)},
		lifecycle.Named{Name: "http", Service: srv})
}
