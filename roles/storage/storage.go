// Package storage is the storage role: it consumes finished results from the
// queue's results stream, keeps them in PostgreSQL and serves history.
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/lifecycle"
)

// Config configures the storage role.
type Config struct {
	Addr        string
	DatabaseURL string
	RedisURL    string
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.DatabaseURL == "" {
		return errors.New("storage: DATABASE_URL (--database-url) is required")
	}
	if c.RedisURL == "" {
		return errors.New("storage: REDIS_URL (--redis-url) is required")
	}
	if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
		return fmt.Errorf("storage: --database-url: %w", err)
	}
	if _, err := redis.ParseURL(c.RedisURL); err != nil {
		return fmt.Errorf("storage: --redis-url: %w", err)
	}
	return nil
}

// Role is the storage role.
type Role struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool
	rdb  *redis.Client
}

// New builds the role; it does not connect yet.
func New(cfg Config, log *slog.Logger) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pcfg, _ := pgxpool.ParseConfig(cfg.DatabaseURL)
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	opt, _ := redis.ParseURL(cfg.RedisURL)
	return &Role{cfg: cfg, log: log, pool: pool, rdb: redis.NewClient(opt)}, nil
}

// Register adds the role's readiness checks and metrics to srv.
func (r *Role) Register(srv *httpx.Server) {
	srv.AddCheck("postgres", func(ctx context.Context) error { return r.pool.Ping(ctx) })
	srv.AddCheck("redis", func(ctx context.Context) error { return r.rdb.Ping(ctx).Err() })
}

// Mount adds the internal API routes to srv.
func (r *Role) Mount(srv *httpx.Server) {}

// Work runs the role's background loops until ctx ends.
func (r *Role) Work(ctx context.Context) error {
	<-ctx.Done()
	r.pool.Close()
	return r.rdb.Close()
}

// Run serves the internal API and runs the background loops until ctx ends.
func (r *Role) Run(ctx context.Context) error {
	srv := httpx.NewServer(httpx.Config{Addr: r.cfg.Addr}, r.log)
	r.Register(srv)
	r.Mount(srv)
	return lifecycle.Run(ctx, r.log,
		lifecycle.Named{Name: "storage", Service: lifecycle.Func(r.Work)},
		lifecycle.Named{Name: "http", Service: srv})
}
