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
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/lifecycle"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/redisq"
	"github.com/execbox/app/pkg/store"
)

// Config configures the gateway role. Zero values take the defaults listed
// in DefaultConfig.
type Config struct {
	Addr       string
	QueueURL   string
	StorageURL string
	// RuntimesFile replaces or extends the embedded language catalog.
	RuntimesFile string
	// InternalToken is sent to the queue and storage roles.
	InternalToken string

	// APIKeys is a comma-separated list of "id:sha256hex" pairs or raw keys
	// (hashed at start; only hashes are kept). When the store keeps keys
	// too (store.KeyStore), presented keys not in this list are looked up
	// there. The gateway is open only while neither has any key (auth.go).
	APIKeys string
	// APIKeyCacheTTL is how long answers of store key lookups are cached
	// (found and not found): a revoked key stops working within it.
	APIKeyCacheTTL time.Duration
	// RateLimit is the sustained number of submissions per second per key
	// (0 disables rate limiting); RateBurst the bucket size.
	RateLimit float64
	RateBurst int
	// RateLimitRedisURL, when set, keeps the rate limit buckets in Redis so
	// that several gateways share them; otherwise they live in this process.
	RateLimitRedisURL string
	// MaxInFlight caps the unfinished submissions of one key (0: no cap).
	MaxInFlight int

	// MaxWait bounds ?wait=true, /v1/execute, Judge0 wait and Piston execute.
	MaxWait time.Duration
	// Request maximums.
	MaxBodyBytes     int64
	MaxFiles         int
	MaxSourceBytes   int64
	MaxStdinBytes    int64
	MaxArgs          int
	MaxTests         int
	MaxBatch         int
	MaxMetadataBytes int
	// MaxLimits caps the limits a request may ask for.
	MaxLimits job.Limits

	// CallbackAllowPrivate lets callbacks reach loopback, private and
	// link-local addresses (tests, trusted networks).
	CallbackAllowPrivate bool
	// CallbackAttempts bounds delivery attempts; CallbackBackoff is the first
	// retry delay, doubled each time up to CallbackMaxBackoff.
	CallbackAttempts   int
	CallbackBackoff    time.Duration
	CallbackMaxBackoff time.Duration
	CallbackTimeout    time.Duration
	// MaxPendingCallbacks caps the submissions whose callback is still to be
	// delivered; beyond it submissions with a callback_url get 503.
	MaxPendingCallbacks int

	// Heartbeat is the interval of keep-alive comments on event streams.
	Heartbeat time.Duration
}

// DefaultConfig returns the defaults every zero field of Config takes.
func DefaultConfig() Config {
	return Config{
		RateBurst:        20,
		MaxWait:          30 * time.Second,
		MaxBodyBytes:     2 << 20,
		MaxFiles:         20,
		MaxSourceBytes:   1 << 20,
		MaxStdinBytes:    1 << 20,
		MaxArgs:          64,
		MaxTests:         64,
		MaxBatch:         20,
		MaxMetadataBytes: 4096,
		MaxLimits: job.Limits{
			CPUTimeMs:   15_000,
			WallTimeMs:  30_000,
			MemoryKB:    1 << 20, // 1 GiB
			Processes:   256,
			OutputBytes: 16 << 20,
		},
		CallbackAttempts:    5,
		CallbackBackoff:     time.Second,
		CallbackMaxBackoff:  30 * time.Second,
		CallbackTimeout:     10 * time.Second,
		MaxPendingCallbacks: 1000,
		Heartbeat:           15 * time.Second,
		APIKeyCacheTTL:      30 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setDur := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setInt64 := func(p *int64, v int64) {
		if *p == 0 {
			*p = v
		}
	}
	setInt(&c.RateBurst, d.RateBurst)
	setDur(&c.MaxWait, d.MaxWait)
	setDur(&c.APIKeyCacheTTL, d.APIKeyCacheTTL)
	setInt64(&c.MaxBodyBytes, d.MaxBodyBytes)
	setInt(&c.MaxFiles, d.MaxFiles)
	setInt64(&c.MaxSourceBytes, d.MaxSourceBytes)
	setInt64(&c.MaxStdinBytes, d.MaxStdinBytes)
	setInt(&c.MaxArgs, d.MaxArgs)
	setInt(&c.MaxTests, d.MaxTests)
	setInt(&c.MaxBatch, d.MaxBatch)
	setInt(&c.MaxMetadataBytes, d.MaxMetadataBytes)
	setInt64(&c.MaxLimits.CPUTimeMs, d.MaxLimits.CPUTimeMs)
	setInt64(&c.MaxLimits.WallTimeMs, d.MaxLimits.WallTimeMs)
	setInt64(&c.MaxLimits.MemoryKB, d.MaxLimits.MemoryKB)
	setInt64(&c.MaxLimits.Processes, d.MaxLimits.Processes)
	setInt64(&c.MaxLimits.OutputBytes, d.MaxLimits.OutputBytes)
	setInt(&c.CallbackAttempts, d.CallbackAttempts)
	setDur(&c.CallbackBackoff, d.CallbackBackoff)
	setDur(&c.CallbackMaxBackoff, d.CallbackMaxBackoff)
	setDur(&c.CallbackTimeout, d.CallbackTimeout)
	setInt(&c.MaxPendingCallbacks, d.MaxPendingCallbacks)
	setDur(&c.Heartbeat, d.Heartbeat)
	return c
}

// Validate checks the configuration (after defaults are applied).
func (c Config) Validate() error {
	var errs []error
	if c.RateLimit < 0 {
		errs = append(errs, errors.New("--rate-limit must not be negative"))
	}
	if c.MaxInFlight < 0 {
		errs = append(errs, errors.New("--max-in-flight must not be negative"))
	}
	for name, v := range map[string]int64{
		"--max-body-bytes": c.MaxBodyBytes, "--max-files": int64(c.MaxFiles), "--max-source-bytes": c.MaxSourceBytes,
		"--max-stdin-bytes": c.MaxStdinBytes, "--max-args": int64(c.MaxArgs), "--max-tests": int64(c.MaxTests),
		"--max-batch": int64(c.MaxBatch), "--max-cpu-time-ms": c.MaxLimits.CPUTimeMs,
		"--max-wall-time-ms": c.MaxLimits.WallTimeMs, "--max-memory-kb": c.MaxLimits.MemoryKB,
		"--max-processes": c.MaxLimits.Processes, "--max-output-bytes": c.MaxLimits.OutputBytes,
		"--rate-burst": int64(c.RateBurst), "--max-wait": int64(c.MaxWait),
		"--api-key-cache-ttl": int64(c.APIKeyCacheTTL),
	} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if c.RateLimitRedisURL != "" {
		if _, err := redis.ParseURL(c.RateLimitRedisURL); err != nil {
			errs = append(errs, fmt.Errorf("--rate-limit-redis-url: %w", err))
		}
	}
	if _, err := parseAPIKeys(c.APIKeys); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

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
	srv := httpx.NewServer(httpx.Config{Addr: r.cfg.Addr}, r.log)
	r.Register(srv)
	r.Mount(srv)
	return lifecycle.Run(ctx, r.log,
		lifecycle.Named{Name: "gateway", Service: lifecycle.Func(r.Work)},
		lifecycle.Named{Name: "http", Service: srv})
}
