package cmd

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/roles/queue"
)

func newQueueCmd(g *globals) *cobra.Command {
	var (
		cfg queue.Config
		l   listen
	)
	c := &cobra.Command{
		Use:   "queue",
		Short: "Run the queue role: the job queue in Redis, served over an internal HTTP API",
		Long: `Run the queue role: the job queue in Redis (streams per priority, leases with
heartbeats, dead letters, a results stream for storage), served to gateways and
workers over the internal API under /queue/v1.

Durability (Redis with appendonly yes): a job the queue accepted survives kill -9
of any execbox process. With appendfsync always it also survives kill -9 of
Redis and a host crash. With appendfsync everysec it survives a Redis restart
or kill -9 (except while the disk stalls, when Redis may delay the write by up
to 2 s), and a host crash may lose the last 1-2 s of accepted jobs and state
changes (undone leases and completions mean those jobs run again). Configure
Redis with maxmemory-policy noeviction.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, 8086)
	fs.String(&cfg.RedisURL, "redis-url", "REDIS_URL", "", "Redis URL (required)")
	fs.String(&cfg.RedisPrefix, "redis-prefix", "EXECBOX_REDIS_PREFIX", "execbox", "prefix of every Redis key")
	fs.Int(&cfg.RedisPoolSize, "redis-pool-size", "EXECBOX_REDIS_POOL_SIZE", 32, "most Redis connections")
	fs.Secret(&cfg.InternalToken, "internal-token", "EXECBOX_INTERNAL_TOKEN", "", "bearer token guarding /queue/v1")
	fs.Duration(&cfg.Visibility, "visibility", "EXECBOX_QUEUE_VISIBILITY", 30*time.Second, "lease duration: a job whose worker stops heartbeating is delivered again after it")
	fs.Int(&cfg.MaxDeliveries, "max-deliveries", "EXECBOX_QUEUE_MAX_DELIVERIES", 3, "expired deliveries before a job ends as internal_error on the dead-letter list")
	fs.Int64(&cfg.MaxLength, "max-length", "EXECBOX_QUEUE_MAX_LENGTH", 10000, "most queued jobs; beyond it submissions get 503 with Retry-After (0: unlimited)")
	fs.Duration(&cfg.ResultTTL, "result-ttl", "EXECBOX_QUEUE_RESULT_TTL", 24*time.Hour, "how long finished submissions stay in Redis (storage keeps them for good)")
	fs.Duration(&cfg.MaxLeaseWait, "max-lease-wait", "EXECBOX_QUEUE_MAX_LEASE_WAIT", 30*time.Second, "longest long-poll lease request")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		if cfg.RedisURL == "" {
			return errors.New("queue: REDIS_URL (--redis-url) is required; the in-process queue is for app all")
		}
		cfg.Addr = l.addr()
		log, err := g.logger("queue")
		if err != nil {
			return err
		}
		role, err := queue.New(cfg, log, queue.Deps{})
		if err != nil {
			return err
		}
		return runRole(log, role)
	}
	return c
}
