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
	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/role"
	execrole "github.com/execbox/app/roles/executor"
	"github.com/execbox/app/roles/gateway"
	queuerole "github.com/execbox/app/roles/queue"
	"github.com/execbox/app/roles/storage"
	"github.com/execbox/app/roles/worker"
)

// Config configures app all: one listen address and each role's settings.
// The roles' own Addr and URL fields are ignored: everything is in-process.
type Config struct {
	Addr string
	// HTTP bounds what clients can hold of the role's HTTP server.
	HTTP     httpx.Limits
	Gateway  gateway.Config
	Queue    queuerole.Config
	Worker   worker.Config
	Executor execrole.Config
	Storage  storage.Config
	// ShutdownTimeout bounds the drain of in-flight HTTP requests.
	ShutdownTimeout time.Duration
}

// DefaultPort is app all's listen port: the gateway's, whose public API it
// serves.
const DefaultPort = gateway.DefaultPort

// DefaultDataDir is where the embedded store lives when neither
// DATABASE_URL nor a data directory is given.
const DefaultDataDir = "execbox-data"

// DefaultConfig returns every role's defaults.
func DefaultConfig() Config {
	return Config{
		Gateway:  gateway.DefaultConfig(),
		Queue:    queuerole.DefaultConfig(),
		Worker:   worker.DefaultConfig(),
		Executor: execrole.DefaultConfig(),
		Storage:  storage.DefaultConfig(),
	}
}

// RegisterFlags binds every role's tunables under the split roles' names,
// environment variables, defaults and help texts; a flag two roles share
// (--redis-url, --redis-prefix, --runtimes) sets both. The roles' process
// flags (listen addresses, other roles' URLs, internal tokens) make no sense
// in one process and are not bound.
func (c *Config) RegisterFlags(fs *flagenv.Set) {
	c.Queue.RegisterFlags(fs)
	c.Storage.RegisterFlags(fs)
	c.Executor.RegisterFlags(fs)
	c.Worker.RegisterFlags(fs)
	c.Gateway.RegisterFlags(fs)
}

// Embedded reports whether the in-process queue and SQLite store are used.
func (c Config) Embedded() bool { return c.Queue.RedisURL == "" }

func (c Config) withDefaults() Config {
	if c.Storage.DatabaseURL == "" && c.Storage.DataDir == "" {
		c.Storage.DataDir = DefaultDataDir
	}
	return c
}

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
	storage  *storage.Role
	queue    *queuerole.Role
	executor *execrole.Role
	worker   *worker.Role
	gateway  *gateway.Role
}

// New builds every role in dependency order: storage (the one owner of the
// store: PostgreSQL, or the embedded SQLite store that also journals the
// in-process queue), the queue, storage's feed (the queue's results), the
// executor, the worker (on the in-process queue and executor) and the
// gateway (on the in-process queue and store).
func New(cfg Config, log *slog.Logger) (*Role, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Role{cfg: cfg, log: log}
	scfg := cfg.Storage
	scfg.RedisURL = "" // the feed comes from the queue role
	var err error
	if r.storage, err = storage.New(scfg, log.With("component", "storage"), storage.Deps{}); err != nil {
		return nil, fmt.Errorf("all: %w", err)
	}
	defer func() {
		if err != nil {
			r.storage.Close()
		}
	}()
	if r.queue, err = queuerole.New(cfg.Queue, log.With("component", "queue"), queuerole.Deps{Journal: r.storage.Journal()}); err != nil {
		return nil, fmt.Errorf("all: %w", err)
	}
	r.storage.Consume(r.queue.Feed())
	ecfg := cfg.Executor
	if ecfg.Catalog, err = catalog.LoadOrDefault(ecfg.RuntimesFile); err != nil { // once, for the gateway too
		return nil, fmt.Errorf("all: %w", err)
	}
	if r.executor, err = execrole.New(ecfg, log.With("component", "executor")); err != nil {
		return nil, fmt.Errorf("all: %w", err)
	}
	if r.worker, err = worker.New(cfg.Worker, log.With("component", "worker"),
		worker.Deps{Queue: r.queue.Queue(), Executors: []executor.Executor{r.executor.Executor()}, Live: r.queue.Live()}); err != nil {
		return nil, fmt.Errorf("all: %w", err)
	}
	if r.gateway, err = gateway.New(cfg.Gateway, log.With("component", "gateway"),
		gateway.Deps{Queue: r.queue.Queue(), Live: r.queue.Live(), Store: r.storage.Store(), Catalog: ecfg.Catalog}); err != nil {
		return nil, fmt.Errorf("all: %w", err)
	}
	return r, nil
}

// roles is the start order, as data. Storage comes first, so that it stops
// last: it owns the store the queue journals to. Only the gateway's routes
// are mounted; the other roles' internal APIs stay off the public port.
func (r *Role) roles() []role.Named {
	return []role.Named{
		{Name: "storage", Role: role.Unmounted(r.storage)},
		{Name: "queue", Role: role.Unmounted(r.queue)},
		{Name: "executor", Role: role.Unmounted(r.executor)},
		{Name: "worker", Role: role.Unmounted(r.worker)},
		{Name: "gateway", Role: r.gateway},
	}
}

// Run serves the public API on one port and runs every role's background
// work. Roles start in order and stop in reverse: the HTTP server drains
// first, then the gateway, worker (which hands back unfinished jobs),
// executor, queue and storage (which closes the store). If one fails, all
// stop.
func (r *Role) Run(ctx context.Context) error {
	return role.Serve(ctx, r.log, role.Config{Addr: r.cfg.Addr, HTTP: r.cfg.HTTP, ShutdownTimeout: r.cfg.ShutdownTimeout}, r.roles()...)
}
