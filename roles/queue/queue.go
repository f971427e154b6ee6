// Package queue is the queue role: it owns the job queue in Redis and
// serves it to gateways and workers over its internal HTTP API.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/lifecycle"
)

// Config configures the queue role.
type Config struct {
	// Addr is the HTTP listen address of the internal API.
	Addr string
	// RedisURL locates Redis ("redis://host:6379/0").
	RedisURL string
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.RedisURL == "" {
		return errors.New("queue: REDIS_URL (--redis-url) is required")
	}
	if _, err := redis.ParseURL(c.RedisURL); err != nil {
		return fmt.Errorf("queue: --redis-url: %w", err)
	}
	return nil
}

// Role is the queue role.
type Role struct {
	cfg Config
	log *slog.Logger
	rdb *redis.Client
}

// New builds the role; it does not connect yet.
func New(cfg Config, log *slog.Logger) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opt, _ := redis.ParseURL(cfg.RedisURL)
	return &Role{cfg: cfg, log: log, rdb: redis.NewClient(opt)}, nil
}

// Register adds the role's readiness checks and metrics to srv.
func (r *Role) Register(srv *httpx.Server) {
	srv.AddCheck("redis", func(ctx context.Context) error { return r.rdb.Ping(ctx).Err() })
}

// Mount adds the internal API routes to srv.
func (r *Role) Mount(srv *httpx.Server) {}

// Work runs the role's background loops until ctx ends.
func (r *Role) Work(ctx context.Context) error {
	<-ctx.Done()
	return r.rdb.Close()
}

// Run serves the internal API and runs the background loops until ctx ends.
func (r *Role) Run(ctx context.Context) error {
	srv := httpx.NewServer(httpx.Config{Addr: r.cfg.Addr}, r.log)
	r.Register(srv)
	r.Mount(srv)
	return lifecycle.Run(ctx, r.log,
		lifecycle.Named{Name: "queue", Service: lifecycle.Func(r.Work)},
		lifecycle.Named{Name: "http", Service: srv})
}
