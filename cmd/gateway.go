package cmd

import (
	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/roles/gateway"
)

func newGatewayCmd(g *globals) *cobra.Command {
	var (
		cfg  gateway.Config
		l    listen
		rate int
	)
	c := &cobra.Command{
		Use:   "gateway",
		Short: "Run the gateway role: the public HTTP API",
		Long: `Run the gateway role: the public HTTP API (native /v1, Judge0 CE and Piston v2
compatible), API keys, rate limits, callbacks, /openapi.json and /docs.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, 8085)
	fs.String(&cfg.QueueURL, "queue-url", "EXECBOX_QUEUE_URL", "http://127.0.0.1:8086", "queue role URL")
	fs.String(&cfg.StorageURL, "storage-url", "EXECBOX_STORAGE_URL", "http://127.0.0.1:8089", "storage role URL")
	fs.String(&cfg.RuntimesFile, "runtimes", "EXECBOX_RUNTIMES", "", "runtimes file replacing or extending the embedded language catalog")
	fs.Secret(&cfg.InternalToken, "internal-token", "EXECBOX_INTERNAL_TOKEN", "", "bearer token for the internal APIs of the other roles")
	bindGatewayFlags(fs, &cfg, &rate)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		cfg.Addr = l.addr()
		cfg.RateLimit = float64(rate)
		log, err := g.logger("gateway")
		if err != nil {
			return err
		}
		role, err := gateway.New(cfg, log, gateway.Deps{})
		if err != nil {
			return err
		}
		return runRole(log, role)
	}
	return c
}

// bindGatewayFlags binds the gateway's flags other than listen address,
// role URLs, runtimes file and internal token, so that "app all" can share them. The caller copies rate (per
// second) into cfg.RateLimit after parsing.
func bindGatewayFlags(fs *flagenv.Set, cfg *gateway.Config, rate *int) {
	d := gateway.DefaultConfig()
	fs.Secret(&cfg.APIKeys, "api-keys", "EXECBOX_API_KEYS", "",
		"API keys, comma-separated: raw keys (hashed at start) or id:sha256hex pairs; with none here and none in the store the API is open")
	fs.Duration(&cfg.APIKeyCacheTTL, "api-key-cache-ttl", "EXECBOX_API_KEY_CACHE_TTL", d.APIKeyCacheTTL,
		"how long answers of API key lookups in the store are cached: a revoked key works until it ends")
	fs.Int(rate, "rate-limit", "EXECBOX_RATE_LIMIT", 0, "submissions per second per API key (0: no rate limit)")
	fs.Int(&cfg.RateBurst, "rate-burst", "EXECBOX_RATE_BURST", d.RateBurst, "rate limit burst per API key")
	fs.String(&cfg.RateLimitRedisURL, "rate-limit-redis-url", "EXECBOX_RATE_LIMIT_REDIS_URL", "",
		"Redis URL for rate limit buckets shared by several gateways (default: in process)")
	fs.Int(&cfg.MaxInFlight, "max-in-flight", "EXECBOX_MAX_IN_FLIGHT", 0, "unfinished submissions per API key (0: no cap)")
	fs.Duration(&cfg.MaxWait, "max-wait", "EXECBOX_MAX_WAIT", d.MaxWait, "longest a request waits for a result (wait=true, /v1/execute, Piston)")
	fs.Int64(&cfg.MaxBodyBytes, "max-body-bytes", "EXECBOX_MAX_BODY_BYTES", d.MaxBodyBytes, "largest request body")
	fs.Int(&cfg.MaxFiles, "max-files", "EXECBOX_MAX_FILES", d.MaxFiles, "most source files per submission")
	fs.Int64(&cfg.MaxSourceBytes, "max-source-bytes", "EXECBOX_MAX_SOURCE_BYTES", d.MaxSourceBytes, "largest total source size")
	fs.Int64(&cfg.MaxStdinBytes, "max-stdin-bytes", "EXECBOX_MAX_STDIN_BYTES", d.MaxStdinBytes, "largest stdin (and all test data together)")
	fs.Int(&cfg.MaxArgs, "max-args", "EXECBOX_MAX_ARGS", d.MaxArgs, "most program (and compiler) arguments")
	fs.Int(&cfg.MaxTests, "max-tests", "EXECBOX_MAX_TESTS", d.MaxTests, "most test cases per submission")
	fs.Int(&cfg.MaxBatch, "max-batch", "EXECBOX_MAX_BATCH", d.MaxBatch, "most submissions per batch")
	fs.Int64(&cfg.MaxLimits.CPUTimeMs, "max-cpu-time-ms", "EXECBOX_MAX_CPU_TIME_MS", d.MaxLimits.CPUTimeMs, "highest CPU time limit a request may ask")
	fs.Int64(&cfg.MaxLimits.WallTimeMs, "max-wall-time-ms", "EXECBOX_MAX_WALL_TIME_MS", d.MaxLimits.WallTimeMs, "highest wall time limit a request may ask")
	fs.Int64(&cfg.MaxLimits.MemoryKB, "max-memory-kb", "EXECBOX_MAX_MEMORY_KB", d.MaxLimits.MemoryKB, "highest memory limit a request may ask")
	fs.Int64(&cfg.MaxLimits.Processes, "max-processes", "EXECBOX_MAX_PROCESSES", d.MaxLimits.Processes, "highest process limit a request may ask")
	fs.Int64(&cfg.MaxLimits.OutputBytes, "max-output-bytes", "EXECBOX_MAX_OUTPUT_BYTES", d.MaxLimits.OutputBytes, "highest output limit a request may ask")
	fs.Bool(&cfg.CallbackAllowPrivate, "callback-allow-private", "EXECBOX_CALLBACK_ALLOW_PRIVATE", false,
		"let callbacks reach loopback, private and link-local addresses")
	fs.Int(&cfg.CallbackAttempts, "callback-attempts", "EXECBOX_CALLBACK_ATTEMPTS", d.CallbackAttempts, "delivery attempts per callback")
	fs.Duration(&cfg.CallbackBackoff, "callback-backoff", "EXECBOX_CALLBACK_BACKOFF", d.CallbackBackoff, "first callback retry delay (doubles each time)")
	fs.Duration(&cfg.CallbackTimeout, "callback-timeout", "EXECBOX_CALLBACK_TIMEOUT", d.CallbackTimeout, "timeout of one callback attempt")
	fs.Duration(&cfg.Heartbeat, "sse-heartbeat", "EXECBOX_SSE_HEARTBEAT", d.Heartbeat, "keep-alive interval of event streams")
}
