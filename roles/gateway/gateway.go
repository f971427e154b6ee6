// Package gateway is the gateway role: the public HTTP API (native /v1,
// Judge0 CE and Piston v2 compatible), auth, rate limits, callbacks and docs.
//
// Decisions worth knowing:
//   - Every API route needs a key once any key exists, in --api-keys or in
//     the store (Authorization: Bearer, X-Api-Key or X-Auth-Token);
//     /openapi.json and /docs do not. Store keys are looked up by hash and
//     cached for APIKeyCacheTTL (auth.go). A key sees only its own
//     submissions (another key's id answers 404).
//   - The rate limit counts submissions, not reads: POST and DELETE charge
//     one token per submission (a batch of n charges n), GETs and event
//     streams are free. A failing Redis limiter lets requests through (logged).
//   - The in-flight cap answers 429 (code too_many_in_flight, Retry-After 1):
//     like a rate limit, the client must slow down; 409 would say the request
//     itself conflicts. Each gateway counts what it accepted.
//   - Queue full is 503 with Retry-After; so is a full callback backlog.
//   - Callbacks are pending in memory: a gateway restart loses undelivered
//     ones (results stay in the queue and storage). Judge0 submissions get a
//     PUT in Judge0's shape, as Judge0 sends; native ones a POST.
//   - Validation errors are RFC 9457 problems naming each field (400), except
//     on Judge0 routes, which answer 422 with Judge0's {"field": [messages]},
//     and Piston, which answers 400 {"message"}; Judge0 and Piston bodies
//     ignore unknown fields, as those servers do; /v1 bodies refuse them.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/redisq"
	"github.com/execbox/app/pkg/role"
	"github.com/execbox/app/pkg/store"
)

// Deps are the gateway's collaborators. Nil fields are built from the
// configuration: HTTP clients of the queue and storage roles, and the
// catalog from RuntimesFile (or the embedded default).
type Deps struct {
	Queue   queue.Queue
	Store   store.Store
	Catalog *catalog.Catalog
	// Limiter overrides the rate limiter built from the configuration.
	Limiter Limiter
	// Clock replaces time.Now (tests).
	Clock func() time.Time
}

// Role is the gateway role.
type Role struct {
	cfg      Config
	log      *slog.Logger
	hc       *http.Client
	queue    queue.Queue
	store    store.Store
	catalog  *catalog.Catalog
	keys     *keyring
	limiter  Limiter
	inflight *inflight
	cb       *callbacks
	metrics  *metrics
	now      func() time.Time
	routes   []route
	specOnce sync.Once
	spec     []byte
	// probes are readiness checks of remote dependencies.
	probes map[string]httpx.Check
	// storeKeys looks up keys kept in the store; nil when it keeps none.
	storeKeys *storeKeys
}

// New builds the role.
func New(cfg Config, log *slog.Logger, deps Deps) (*Role, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	keys, _ := parseAPIKeys(cfg.APIKeys)
	r := &Role{
		cfg:      cfg,
		log:      log,
		hc:       &http.Client{Timeout: 5 * time.Second},
		queue:    deps.Queue,
		store:    deps.Store,
		catalog:  deps.Catalog,
		keys:     keys,
		limiter:  deps.Limiter,
		inflight: newInflight(),
		metrics:  newMetrics(),
		now:      time.Now,
		probes:   map[string]httpx.Check{},
	}
	if r.catalog == nil {
		c, err := catalog.LoadOrDefault(cfg.RuntimesFile)
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		r.catalog = c
	}
	if r.queue == nil || r.store == nil {
		if err := r.remoteDeps(); err != nil {
			return nil, err
		}
	}
	if r.limiter == nil && cfg.RateLimit > 0 {
		if cfg.RateLimitRedisURL != "" {
			opt, _ := redis.ParseURL(cfg.RateLimitRedisURL)
			rdb := redis.NewClient(redisq.Lean(opt))
			r.limiter = NewRedisLimiter(rdb, "execbox:ratelimit:", cfg.RateLimit, cfg.RateBurst)
			r.probes["redis"] = func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
		} else {
			r.limiter = NewMemoryLimiter(cfg.RateLimit, cfg.RateBurst, 10_000)
		}
	}
	r.cb = newCallbacks(cfg, log, r.queue, r.store, r)
	r.cb.outcome = func(o string) { r.metrics.callbacks.WithLabelValues(o).Inc() }
	if deps.Clock != nil {
		r.now = deps.Clock
	}
	if ks, ok := r.store.(store.KeyStore); ok {
		r.storeKeys = newStoreKeys(ks, cfg.APIKeyCacheTTL, func() time.Time { return r.now() }, log)
		if keys.empty() {
			// Not ready while it cannot tell whether a key is required.
			r.probes["api keys"] = func(ctx context.Context) error {
				_, err := r.storeKeys.open(ctx)
				return err
			}
		}
	}
	return r, nil
}

// Register adds the role's readiness checks and metrics to srv.
func (r *Role) Register(srv *httpx.Server) {
	for name, c := range r.probes {
		srv.AddCheck(name, c)
	}
	r.metrics.register(srv.Registry())
}

// Mount adds the public API routes to srv.
func (r *Role) Mount(srv *httpx.Server) {
	for _, rt := range r.routeTable() {
		srv.Handle(rt.pattern(), rt.handler)
	}
}

// Handler returns the public API alone (tests and embedding).
func (r *Role) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range r.routeTable() {
		mux.Handle(rt.pattern(), rt.handler)
	}
	return mux
}

// Work logs the API key rule in force, then delivers callbacks until ctx
// ends.
func (r *Role) Work(ctx context.Context) error {
	r.logAuthRule(ctx)
	return r.cb.run(ctx)
}

// Run serves the public API until ctx ends.
func (r *Role) Run(ctx context.Context) error {
	return role.Serve(ctx, r.log, role.Config{Addr: r.cfg.Addr}, role.Named{Name: "gateway", Role: r})
}
