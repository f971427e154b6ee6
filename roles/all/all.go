// Package all runs every role in one process on one port, wired in-process:
// no loopback HTTP between roles. With no Redis and no PostgreSQL configured
// it uses the in-process queue and the embedded SQLite store, which also
// journals accepted submissions so a restart re-queues the unfinished ones.
package all

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/lifecycle"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/sqlitestore"
	execrole "github.com/execbox/app/roles/executor"
	"github.com/execbox/app/roles/gateway"
	queuerole "github.com/execbox/app/roles/queue"
	"github.com/execbox/app/roles/storage"
	"github.com/execbox/app/roles/worker"
)

// Config configures app all: one listen address and each role's settings.
// The roles' own Addr and URL fields are ignored: everything is in-process.
type Config struct {
	Addr     string
	Gateway  gateway.Config
	Queue    queuerole.Config
	Worker   worker.Config
	Executor execrole.Config
	Storage  storage.Config
	// ShutdownTimeout bounds the drain of in-flight HTTP requests.
	ShutdownTimeout time.Duration
}

// Embedded reports whether the in-process queue and SQLite store are used.
func (c Config) Embedded() bool { return c.Queue.RedisURL == "" }

// Validate checks the configuration.
func (c Config) Validate() error {
	if (c.Queue.RedisURL == "") != (c.Storage.DatabaseURL == "") {
		return errors.New("all: set both REDIS_URL and DATABASE_URL, or neither (embedded queue and store)")
	}
	if c.Embedded() && c.Storage.DataDir == "" {
		return errors.New("all: --data-dir is required for the embedded store")
	}
	return nil
}

// Role is the whole service in one process.
type Role struct {
	cfg      Config
	log      *slog.Logger
	embedded *sqlitestore.Store // nil with PostgreSQL
	storage  *storage.Role
	queue    *queuerole.Role
	executor *execrole.Role
	worker   *worker.Role
	gateway  *gateway.Role
}

// New builds every role in dependency order: the store, the queue (journaled
// by the embedded store), storage (consuming the queue's results feed), the
// executor, the worker (on the in-process queue and executor) and the
// gateway (on the in-process queue and store).
func New(cfg Config, log *slog.Logger) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Role{cfg: cfg, log: log}
	var journal queue.Journal
	if cfg.Embedded() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s, err := sqlitestore.OpenDir(ctx, cfg.Storage.DataDir, log.With("component", "storage"), sqlitestore.Options{})
		if err != nil {
			return nil, fmt.Errorf("all: %w", err)
		}
		r.embedded, journal = s, s
	}
	var err error
	defer func() {
		if err != nil && r.embedded != nil {
			_ = r.embedded.Close()
		}
	}()
	if r.queue, err = queuerole.New(cfg.Queue, log.With("component", "queue"), queuerole.Deps{Journal: journal}); err != nil {
		return nil, fmt.Errorf("all: %w", err)
	}
	sdeps := storage.Deps{Feed: r.queue.Feed()}
	if r.embedded != nil {
		sdeps.Store = r.embedded
	}
	scfg := cfg.Storage
	scfg.RedisURL = "" // the feed comes from the queue role
	if r.storage, err = storage.New(scfg, log.With("component", "storage"), sdeps); err != nil {
		return nil, fmt.Errorf("all: %w", err)
	}
	ecfg := cfg.Executor
	if ecfg.Catalog, err = catalog.LoadOrDefault(ecfg.RuntimesFile); err != nil { // once, for the gateway too
		return nil, fmt.Errorf("all: %w", err)
	}
	if r.executor, err = execrole.New(ecfg, log.With("component", "executor")); err != nil {
		return nil, fmt.Errorf("all: %w", err)
	}
	if r.worker, err = worker.New(cfg.Worker, log.With("component", "worker"),
		worker.Deps{Queue: r.queue.Queue(), Executors: []executor.Executor{r.executor.Executor()}}); err != nil {
		return nil, fmt.Errorf("all: %w", err)
	}
	if r.gateway, err = gateway.New(cfg.Gateway, log.With("component", "gateway"),
		gateway.Deps{Queue: r.queue.Queue(), Store: r.storage.Store(), Catalog: ecfg.Catalog}); err != nil {
		return nil, fmt.Errorf("all: %w", err)
	}
	return r, nil
}

// Run serves the public API on one port and runs every role's background
// work. Roles start in dependency order and stop in reverse: the HTTP server
// drains first, then the gateway, worker (which hands back unfinished jobs),
// executor, storage and queue. If one fails, all stop.
func (r *Role) Run(ctx context.Context) error {
	srv := httpx.NewServer(httpx.Config{Addr: r.cfg.Addr, ShutdownTimeout: r.cfg.ShutdownTimeout}, r.log)
	r.queue.Register(srv)
	r.storage.Register(srv)
	r.executor.Register(srv)
	r.worker.Register(srv)
	r.gateway.Register(srv)
	r.gateway.Mount(srv)
	services := []lifecycle.Named{
		{Name: "queue", Service: lifecycle.Func(r.queue.Work)},
		{Name: "storage", Service: lifecycle.Func(r.storage.Work)},
		{Name: "executor", Service: lifecycle.Func(r.executor.Work)},
		{Name: "worker", Service: lifecycle.Func(r.worker.Work)},
		{Name: "gateway", Service: lifecycle.Func(r.gateway.Work)},
		{Name: "http", Service: srv},
	}
	if r.embedded != nil {
		services = append([]lifecycle.Named{{Name: "embedded store", Service: lifecycle.Func(func(ctx context.Context) error {
			<-ctx.Done()
			return r.embedded.Close()
		})}}, services...)
	}
	return lifecycle.Run(ctx, r.log, services...)
}
