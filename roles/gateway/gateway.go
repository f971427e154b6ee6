// Package gateway is the gateway role: the public HTTP API (native /v1,
// Judge0 CE and Piston v2 compatible), auth, rate limits, callbacks and docs.
// The role wires the parts: roles/gateway/core (submit, wait, lookup,
// cancel, caller and keys, rate and in-flight limits, callbacks, errors) and
// one package per public API (native, judge0, piston), each of which
// depends only on the core; the role mounts their routes and serves the
// OpenAPI document generated from them.
//
// Decisions worth knowing:
//   - Every API route needs a key once any key exists, in --api-keys or in
//     the store (Authorization: Bearer, X-Api-Key or X-Auth-Token);
//     /openapi.json and /docs do not. Store keys are looked up by hash and
//     cached for APIKeyCacheTTL (core/auth.go). A key sees only its own
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
	"time"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/live"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/redisq"
	"github.com/execbox/app/pkg/role"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/roles/gateway/core"
)

// Limiter is a per-key token bucket (core.Limiter).
type Limiter = core.Limiter

// Deps are the gateway's collaborators. Nil fields are built from the
// configuration: HTTP clients of the queue and storage roles, and the
// catalog from RuntimesFile (or the embedded default).
type Deps struct {
	Queue queue.Queue
	// Live carries live output and input; nil: the queue's, when it has
	// them (the queue role's HTTP client does).
	Live    live.Hub
	Store   store.Store
	Catalog *catalog.Catalog
	// Limiter overrides the rate limiter built from the configuration.
	Limiter Limiter
	// Clock replaces time.Now (tests).
	Clock func() time.Time
	// CallbackOutcome, when set, is told each callback's outcome
	// (delivered, failed, abandoned) (tests).
	CallbackOutcome func(outcome string)
}

// Role is the gateway role.
type Role struct {
	cfg     Config
	log     *slog.Logger
	hc      *http.Client
	queue   queue.Queue
	store   store.Store
	catalog *catalog.Catalog
	limiter Limiter
	svc     *core.Service
	routes  []core.Route
	// probes are readiness checks of remote dependencies.
	probes map[string]httpx.Check
}

// New builds the role.
func New(cfg Config, log *slog.Logger, deps Deps) (*Role, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Role{
		cfg:     cfg,
		log:     log,
		hc:      &http.Client{Timeout: 5 * time.Second},
		queue:   deps.Queue,
		store:   deps.Store,
		catalog: deps.Catalog,
		limiter: deps.Limiter,
		probes:  map[string]httpx.Check{},
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
			rdb, err := redisq.NewClient(cfg.RateLimitRedisURL, redisq.ClientSettings{})
			if err != nil {
				return nil, fmt.Errorf("gateway: --rate-limit-redis-url: %w", err)
			}
			r.limiter = core.NewRedisLimiter(rdb, "execbox:ratelimit:", cfg.RateLimit, cfg.RateBurst)
			r.probes["redis"] = func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
		} else {
			r.limiter = core.NewMemoryLimiter(cfg.RateLimit, cfg.RateBurst, 10_000, nil)
		}
	}
	hub := deps.Live
	if h, ok := r.queue.(live.Hub); ok && hub == nil {
		hub = h
	}
	svc, err := core.New(cfg.Config, log, core.Deps{Queue: r.queue, Live: hub, Store: r.store, Catalog: r.catalog,
		Limiter: r.limiter, Clock: deps.Clock, CallbackOutcome: deps.CallbackOutcome})
	if err != nil {
		return nil, err
	}
	r.svc = svc
	for name, c := range svc.Probes() {
		r.probes[name] = c
	}
	r.routes = r.routeTable()
	return r, nil
}

// Register adds the role's readiness checks and metrics to srv.
func (r *Role) Register(srv *httpx.Server) {
	for name, c := range r.probes {
		srv.AddCheck(name, c)
	}
	r.svc.RegisterMetrics(srv.Registry())
}

// Mount adds the public API routes to srv.
func (r *Role) Mount(srv *httpx.Server) {
	for _, rt := range r.routes {
		srv.Handle(rt.Pattern(), r.handler(rt))
	}
}

// Handler returns the public API alone (tests and embedding).
func (r *Role) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range r.routes {
		mux.Handle(rt.Pattern(), r.handler(rt))
	}
	return mux
}

// Routes lists every public route: each API's, then the docs'.
func (r *Role) Routes() []core.Route { return r.routes }

// handler is rt's handler, behind the API key check unless rt is public.
func (r *Role) handler(rt core.Route) http.Handler {
	if rt.Public {
		return rt.Handle
	}
	return r.svc.Authenticate(rt.Handle)
}

// Work logs the API key rule in force, then delivers callbacks until ctx
// ends.
func (r *Role) Work(ctx context.Context) error {
	return r.svc.Work(ctx)
}

// Run serves the public API until ctx ends.
func (r *Role) Run(ctx context.Context) error {
	return role.Serve(ctx, r.log, role.Config{Addr: r.cfg.Addr, HTTP: r.cfg.HTTP}, role.Named{Name: "gateway", Role: r})
}
