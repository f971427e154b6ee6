// Package queue is the queue role: it owns the job queue (in Redis, or in
// process when no Redis is configured) and serves it to gateways and workers
// over its internal HTTP API under /queue/v1.
package queue

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/live"
	"github.com/execbox/app/pkg/memq"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/redisq"
	"github.com/execbox/app/pkg/role"
)

// Deps are what app all passes in.
type Deps struct {
	// Journal persists accepted submissions for the in-process queue (nil:
	// nothing survives a restart). Unused with Redis.
	Journal queue.Journal
}

// Role is the queue role.
type Role struct {
	cfg     Config
	log     *slog.Logger
	rdb     *redis.Client // nil for the in-process queue
	rq      *redisq.Queue
	q       queue.Queue // instrumented
	hub     live.Hub    // the queue's live streams
	feed    queue.ResultFeed
	metrics *metrics
}

// New builds the role. With Redis it does not connect yet; with the
// in-process queue it re-queues the journal's unfinished submissions.
func New(cfg Config, log *slog.Logger, deps Deps) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxLeaseWait <= 0 {
		cfg.MaxLeaseWait = DefaultConfig().MaxLeaseWait
	}
	r := &Role{cfg: cfg, log: log, metrics: newMetrics()}
	var base queue.Queue
	if cfg.RedisURL != "" {
		// No automatic retries: a script whose reply was lost must not run
		// twice (a second lease would strand a job). Callers retry.
		rdb, err := redisq.NewClient(cfg.RedisURL, redisq.ClientSettings{PoolSize: cfg.RedisPoolSize, NoRetries: true})
		if err != nil {
			return nil, fmt.Errorf("queue: --redis-url: %w", err)
		}
		r.rdb = rdb
		r.rq = redisq.New(r.rdb, redisq.Options{
			Prefix: cfg.RedisPrefix, Visibility: cfg.Visibility, MaxDeliveries: cfg.MaxDeliveries,
			MaxLength: cfg.MaxLength, ResultTTL: cfg.ResultTTL, Log: log,
			WaitReplicas: cfg.WaitReplicas, WaitTimeout: cfg.WaitTimeout,
		})
		base, r.feed, r.hub = r.rq, r.rq, r.rq
	} else {
		mq, err := memq.New(context.Background(), memq.Options{
			Visibility: cfg.Visibility, MaxDeliveries: cfg.MaxDeliveries, MaxLength: cfg.MaxLength,
			ResultTTL: cfg.ResultTTL, Journal: deps.Journal, Log: log,
		})
		if err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
		base, r.feed, r.hub = mq, mq, mq
	}
	r.q = &instrumented{Queue: base, m: r.metrics}
	return r, nil
}

// Queue is the queue itself, instrumented (for app all and tests).
func (r *Role) Queue() queue.Queue { return r.q }

// Live is the queue's live streams (for app all and tests).
func (r *Role) Live() live.Hub { return r.hub }

// Feed is the results feed storage consumes.
func (r *Role) Feed() queue.ResultFeed { return r.feed }

// Register adds the role's readiness checks and metrics to srv.
func (r *Role) Register(srv *httpx.Server) {
	if r.rdb != nil {
		srv.AddCheck("redis", func(ctx context.Context) error { return r.rdb.Ping(ctx).Err() })
	}
	r.metrics.register(srv.Registry(), r.q)
}

// Mount adds the internal API routes to srv.
func (r *Role) Mount(srv *httpx.Server) {
	srv.Handle("/queue/v1/", r.Handler())
}

// Handler is the internal API alone, under /queue/v1, behind the token.
func (r *Role) Handler() http.Handler {
	return httpx.RequireToken(r.cfg.InternalToken, newAPI(r.q, r.hub, r.cfg.MaxLeaseWait, r.log))
}

// Work runs until ctx ends, then releases Redis.
func (r *Role) Work(ctx context.Context) error {
	if r.rdb != nil {
		if err := r.rdb.Ping(ctx).Err(); err != nil && ctx.Err() == nil {
			r.log.Warn("redis is not reachable yet; the queue serves once it is", "err", err)
		}
	}
	<-ctx.Done()
	if r.rq != nil {
		_ = r.rq.Close()
		return r.rdb.Close()
	}
	return nil
}

// Run serves the internal API and runs the background loops until ctx ends.
func (r *Role) Run(ctx context.Context) error {
	return role.Serve(ctx, r.log, role.Config{Addr: r.cfg.Addr, HTTP: r.cfg.HTTP,
		Internal: &role.InternalAPI{Token: r.cfg.InternalToken, AllowOpen: r.cfg.InsecureNoToken}}, role.Named{Name: "queue", Role: r})
}
