// Package storage is the storage role: it consumes finished results from the
// queue's results feed (the Redis results stream in split mode, the
// in-process queue's feed in app all), keeps them in PostgreSQL (or the
// embedded SQLite store), deletes them after a retention period and serves
// history over an internal HTTP API under /storage/v1.
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/pgstore"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/role"
	"github.com/execbox/app/pkg/sqlitestore"
	"github.com/execbox/app/pkg/store"
)

// Deps are the role's collaborators.
type Deps struct {
	// Feed is the results feed to consume. Nil means the Redis results
	// stream at Config.RedisURL; with neither, the role only serves history.
	Feed queue.ResultFeed
	// Store replaces the store built from the configuration (tests).
	Store store.Store
}

// Role is the storage role.
type Role struct {
	cfg     Config
	log     *slog.Logger
	store   store.Store
	pg      *pgstore.Store     // nil unless PostgreSQL
	sqlite  *sqlitestore.Store // nil unless embedded
	feed    queue.ResultFeed   // nil: history only
	closers []func()           // run when Work ends
	metrics *metrics
	now     func() time.Time

	mu        sync.Mutex
	migrated  bool
	writeErr  error // last failed write, nil after a success
	readErr   error // last failed feed read
	lastWrite time.Time
	lastTrim  time.Time // last memtrim.Release of an outage (consumer.go)
}

// New builds the role. It does not connect to PostgreSQL yet: Work migrates
// and consumes, retrying until the database answers, so the process starts
// (and reports not ready) while PostgreSQL is down.
func New(cfg Config, log *slog.Logger, deps Deps) (*Role, error) {
	cfg = cfg.withDefaults()
	if deps.Store == nil {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
	}
	r := &Role{cfg: cfg, log: log, store: deps.Store, feed: deps.Feed, metrics: newMetrics(), now: time.Now}
	switch {
	case r.store != nil:
		r.migrated = true
	case cfg.DatabaseURL != "":
		pg, err := pgstore.Open(context.Background(), cfg.DatabaseURL, pgstore.Options{MaxConns: cfg.MaxConns})
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		r.pg, r.store = pg, pg
		r.closers = append(r.closers, pg.Close)
	default:
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s, err := sqlitestore.OpenDir(ctx, cfg.DataDir, log, sqlitestore.Options{})
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		r.sqlite, r.store, r.migrated = s, s, true
		r.closers = append(r.closers, func() { _ = s.Close() })
	}
	if r.feed == nil && cfg.RedisURL != "" {
		feed, closeFeed, err := newRedisFeed(cfg, log)
		if err != nil {
			r.close()
			return nil, err
		}
		r.feed = feed
		r.closers = append(r.closers, closeFeed)
	}
	return r, nil
}

func (r *Role) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
	r.closers = nil
}

// Consume makes feed the results feed to consume (app all: the in-process
// queue's, whose journal is this role's store). Call it before Register and
// Work.
func (r *Role) Consume(feed queue.ResultFeed) { r.feed = feed }

// Store returns the role's store (PostgreSQL or SQLite).
func (r *Role) Store() store.Store { return r.store }

// Journal returns the embedded store's journal for the in-process queue, or
// nil when the role uses PostgreSQL.
func (r *Role) Journal() queue.Journal {
	if j, ok := r.store.(queue.Journal); ok {
		return j
	}
	return nil
}

// Migrate applies the schema migrations once (PostgreSQL; the embedded store
// migrates when it opens). For `app storage migrate`.
func (r *Role) Migrate(ctx context.Context) ([]int, error) {
	if r.pg == nil {
		return nil, nil
	}
	vs, err := pgstore.Migrate(ctx, r.pg.Pool(), r.log)
	if err == nil {
		r.mu.Lock()
		r.migrated = true
		r.mu.Unlock()
	}
	return vs, err
}

// Close releases the database and Redis connections (after Migrate alone;
// Work closes them itself).
func (r *Role) Close() { r.close() }

// Register adds the role's readiness checks and metrics to srv.
func (r *Role) Register(srv *httpx.Server) {
	// One check per dependency, named for it, so /ready says which is down.
	db := "postgres"
	if r.pg == nil {
		db = "sqlite"
	}
	srv.AddCheck(db, r.databaseReady)
	if r.feed != nil {
		feed := "results feed"
		if r.cfg.RedisURL != "" {
			feed = "redis"
		}
		srv.AddCheck(feed, r.feedReady)
	}
	r.metrics.register(srv.Registry())
}

// databaseReady reports whether the store is migrated, its last write
// succeeded and it answers now.
func (r *Role) databaseReady(ctx context.Context) error {
	r.mu.Lock()
	migrated, werr := r.migrated, r.writeErr
	r.mu.Unlock()
	switch {
	case !migrated:
		if p, ok := r.store.(store.Pinger); ok {
			if err := p.Ping(ctx); err != nil {
				return err
			}
		}
		return errors.New("database not migrated yet")
	case werr != nil:
		return fmt.Errorf("writes failing: %w", werr)
	}
	if p, ok := r.store.(store.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// feedReady reports whether the last read of the results feed succeeded.
func (r *Role) feedReady(context.Context) error {
	r.mu.Lock()
	rerr := r.readErr
	r.mu.Unlock()
	if rerr != nil {
		return fmt.Errorf("results feed failing: %w", rerr)
	}
	return nil
}

// Mount adds the internal API routes to srv.
func (r *Role) Mount(srv *httpx.Server) {
	h := r.Handler()
	srv.Handle("/storage/v1/", h)
}

// database names the role's database for outage answers.
func (r *Role) database() string {
	if r.pg != nil {
		return "PostgreSQL"
	}
	return "the storage database"
}

// Handler is the internal API alone, under /storage/v1, behind the token.
func (r *Role) Handler() http.Handler {
	return httpx.RequireToken(r.cfg.InternalToken, newAPI(r.store, r.database(), r.log))
}

// Work migrates the database (retrying while it is down), then consumes the
// results feed and runs the retention sweeps until ctx ends.
func (r *Role) Work(ctx context.Context) error {
	defer r.close()
	if r.pg != nil {
		bo := r.newBackoff()
		for {
			if _, err := r.Migrate(ctx); err == nil {
				break
			} else if ctx.Err() != nil {
				return nil
			} else {
				r.log.Warn("migrating the database failed, retrying", "err", err, "retry_in", bo.Peek())
			}
			if bo.Wait(ctx) != nil {
				return nil
			}
		}
	}
	var wg sync.WaitGroup
	if r.cfg.Retention > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.retain(ctx)
		}()
	}
	if r.feed != nil {
		r.consume(ctx)
	} else {
		<-ctx.Done()
	}
	wg.Wait()
	return nil
}

// Run serves the internal API and runs the background loops until ctx ends.
func (r *Role) Run(ctx context.Context) error {
	return role.Serve(ctx, r.log, role.Config{Addr: r.cfg.Addr, HTTP: r.cfg.HTTP,
		Internal: &role.InternalAPI{Token: r.cfg.InternalToken, AllowOpen: r.cfg.InsecureNoToken}}, role.Named{Name: "storage", Role: r})
}
