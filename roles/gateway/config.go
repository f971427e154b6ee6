package gateway

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue/queuehttp"
	"github.com/execbox/app/pkg/redisq"
	"github.com/execbox/app/pkg/store/storehttp"
	"github.com/execbox/app/roles/gateway/core"
)

// Config configures the gateway role. Zero values take the defaults listed
// in DefaultConfig.
type Config struct {
	Addr string
	// HTTP bounds what clients can hold of the role's HTTP server.
	HTTP       httpx.Limits
	QueueURL   string
	StorageURL string
	// RuntimesFile replaces or extends the embedded language catalog.
	RuntimesFile string
	// InternalToken is sent to the queue and storage roles.
	InternalToken string

	// RateBurst is the rate limit's bucket size.
	RateBurst int
	// RateLimitRedisURL, when set, keeps the rate limit buckets in Redis so
	// that several gateways share them; otherwise they live in this process.
	RateLimitRedisURL string

	// Config is what the core and the API packages read: keys, rate,
	// request maximums, callbacks, event streams.
	core.Config
}

// DefaultConfig returns the defaults every zero field of Config takes.
func DefaultConfig() Config {
	return Config{
		RateBurst: 20,
		Config: core.Config{
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
			LiveIdleTimeout:     30 * time.Second,
			LiveMaxSession:      time.Minute,
			APIKeyCacheTTL:      30 * time.Second,
		},
	}
}

// DefaultPort is the gateway's listen port (and app all's).
const DefaultPort = 8085

// RegisterFlags binds the gateway's tunables (app all binds them too), with
// DefaultConfig's defaults.
func (c *Config) RegisterFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	catalog.RegisterFlags(fs, &c.RuntimesFile)
	fs.Secret(&c.APIKeys, "api-keys", "EXECBOX_API_KEYS", d.APIKeys,
		"API keys, comma-separated: raw keys (hashed at start) or id:sha256hex pairs; with none here and none in the store the API is open")
	fs.Duration(&c.APIKeyCacheTTL, "api-key-cache-ttl", "EXECBOX_API_KEY_CACHE_TTL", d.APIKeyCacheTTL,
		"how long answers of API key lookups in the store are cached: a revoked key works until it ends")
	fs.Float64(&c.RateLimit, "rate-limit", "EXECBOX_RATE_LIMIT", d.RateLimit, "submissions per second per API key (0: no rate limit)")
	fs.Int(&c.RateBurst, "rate-burst", "EXECBOX_RATE_BURST", d.RateBurst, "rate limit burst per API key")
	fs.String(&c.RateLimitRedisURL, "rate-limit-redis-url", "EXECBOX_RATE_LIMIT_REDIS_URL", d.RateLimitRedisURL,
		"Redis URL for rate limit buckets shared by several gateways (default: in process)")
	fs.Int(&c.MaxInFlight, "max-in-flight", "EXECBOX_MAX_IN_FLIGHT", d.MaxInFlight, "unfinished submissions per API key (0: no cap)")
	fs.Duration(&c.MaxWait, "max-wait", "EXECBOX_MAX_WAIT", d.MaxWait, "longest a request waits for a result (wait=true, /v1/execute, Piston)")
	fs.Int64(&c.MaxBodyBytes, "max-body-bytes", "EXECBOX_MAX_BODY_BYTES", d.MaxBodyBytes, "largest request body")
	fs.Int(&c.MaxFiles, "max-files", "EXECBOX_MAX_FILES", d.MaxFiles, "most source files per submission")
	fs.Int64(&c.MaxSourceBytes, "max-source-bytes", "EXECBOX_MAX_SOURCE_BYTES", d.MaxSourceBytes, "largest total source size")
	fs.Int64(&c.MaxStdinBytes, "max-stdin-bytes", "EXECBOX_MAX_STDIN_BYTES", d.MaxStdinBytes, "largest stdin (and all test data together)")
	fs.Int(&c.MaxArgs, "max-args", "EXECBOX_MAX_ARGS", d.MaxArgs, "most program (and compiler) arguments")
	fs.Int(&c.MaxTests, "max-tests", "EXECBOX_MAX_TESTS", d.MaxTests, "most test cases per submission")
	fs.Int(&c.MaxBatch, "max-batch", "EXECBOX_MAX_BATCH", d.MaxBatch, "most submissions per batch")
	fs.Int64(&c.MaxLimits.CPUTimeMs, "max-cpu-time-ms", "EXECBOX_MAX_CPU_TIME_MS", d.MaxLimits.CPUTimeMs, "highest CPU time limit a request may ask")
	fs.Int64(&c.MaxLimits.WallTimeMs, "max-wall-time-ms", "EXECBOX_MAX_WALL_TIME_MS", d.MaxLimits.WallTimeMs, "highest wall time limit a request may ask")
	fs.Int64(&c.MaxLimits.MemoryKB, "max-memory-kb", "EXECBOX_MAX_MEMORY_KB", d.MaxLimits.MemoryKB, "highest memory limit a request may ask")
	fs.Int64(&c.MaxLimits.Processes, "max-processes", "EXECBOX_MAX_PROCESSES", d.MaxLimits.Processes, "highest process limit a request may ask")
	fs.Int64(&c.MaxLimits.OutputBytes, "max-output-bytes", "EXECBOX_MAX_OUTPUT_BYTES", d.MaxLimits.OutputBytes, "highest output limit a request may ask")
	fs.Bool(&c.CallbackAllowPrivate, "callback-allow-private", "EXECBOX_CALLBACK_ALLOW_PRIVATE", d.CallbackAllowPrivate,
		"let callbacks reach loopback, private and link-local addresses")
	fs.Int(&c.CallbackAttempts, "callback-attempts", "EXECBOX_CALLBACK_ATTEMPTS", d.CallbackAttempts, "delivery attempts per callback")
	fs.Duration(&c.CallbackBackoff, "callback-backoff", "EXECBOX_CALLBACK_BACKOFF", d.CallbackBackoff, "first callback retry delay (doubles each time)")
	fs.Duration(&c.CallbackTimeout, "callback-timeout", "EXECBOX_CALLBACK_TIMEOUT", d.CallbackTimeout, "timeout of one callback attempt")
	fs.String(&c.CallbackConsumer, "callback-consumer", "EXECBOX_CALLBACK_CONSUMER", d.CallbackConsumer,
		"this gateway's name on the queue's callbacks feed; a restart under the same name resumes its callbacks at once (default: the host name)")
	fs.Duration(&c.Heartbeat, "sse-heartbeat", "EXECBOX_SSE_HEARTBEAT", d.Heartbeat, "keep-alive interval of event streams")
	fs.Duration(&c.LiveIdleTimeout, "live-idle-timeout", "EXECBOX_LIVE_IDLE_TIMEOUT", d.LiveIdleTimeout,
		"interactive runs end after this long without input and output (time_limit_exceeded)")
	fs.Duration(&c.LiveMaxSession, "live-max-session", "EXECBOX_LIVE_MAX_SESSION", d.LiveMaxSession,
		"longest interactive run: its wall time limit (the executor's --max-wall caps it too)")
}

// RegisterProcessFlags binds what only the gateway's own process has: the
// URLs of the roles it calls and the token it sends them.
func (c *Config) RegisterProcessFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	queuehttp.RegisterURLFlag(fs, &c.QueueURL)
	storehttp.RegisterURLFlag(fs, &c.StorageURL)
	fs.Secret(&c.InternalToken, "internal-token", "EXECBOX_INTERNAL_TOKEN", d.InternalToken, "bearer token for the internal APIs of the other roles")
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
	setDur(&c.LiveIdleTimeout, d.LiveIdleTimeout)
	setDur(&c.LiveMaxSession, d.LiveMaxSession)
	if c.CallbackConsumer == "" {
		c.CallbackConsumer, _ = os.Hostname()
		if c.CallbackConsumer == "" {
			c.CallbackConsumer = "gateway"
		}
	}
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
		"--live-idle-timeout": int64(c.LiveIdleTimeout), "--live-max-session": int64(c.LiveMaxSession),
	} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if c.RateLimitRedisURL != "" {
		if err := redisq.CheckURL(c.RateLimitRedisURL); err != nil {
			errs = append(errs, fmt.Errorf("--rate-limit-redis-url: %w", err))
		}
	}
	if err := core.ValidateAPIKeys(c.APIKeys); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}
