package cmd

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/roles/all"
)

func newAllCmd(g *globals) *cobra.Command {
	var (
		cfg  all.Config
		l    listen
		rate int
	)
	c := &cobra.Command{
		Use:   "all",
		Short: "Run every role in one process on one port (embedded queue and store by default)",
		Long: `Run every role in one process on one port, wired in-process. With neither
REDIS_URL nor DATABASE_URL it uses an in-process queue and an embedded SQLite
store under --data-dir (accepted submissions that never finished are queued
again at the next start); with both it uses Redis and PostgreSQL exactly as the
split roles do.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, 8085)
	fs.String(&cfg.Queue.RedisURL, "redis-url", "REDIS_URL", "", "Redis URL (with --database-url; default: in-process queue)")
	fs.String(&cfg.Queue.RedisPrefix, "redis-prefix", "EXECBOX_REDIS_PREFIX", "execbox", "prefix of every Redis key")
	bindStorageDB(fs, &cfg.Storage)
	fs.Duration(&cfg.Storage.Retention, "retention", "EXECBOX_STORAGE_RETENTION", 0, "delete results older than this (0 keeps them)")
	fs.Duration(&cfg.Queue.Visibility, "visibility", "EXECBOX_QUEUE_VISIBILITY", 30*time.Second, "lease duration: a job whose worker stops heartbeating is delivered again after it")
	fs.Int(&cfg.Queue.MaxDeliveries, "max-deliveries", "EXECBOX_QUEUE_MAX_DELIVERIES", 3, "expired deliveries before a job ends as internal_error on the dead-letter list")
	fs.Int64(&cfg.Queue.MaxLength, "max-length", "EXECBOX_QUEUE_MAX_LENGTH", 10000, "most queued jobs; beyond it submissions get 503 with Retry-After (0: unlimited)")
	fs.Duration(&cfg.Queue.ResultTTL, "result-ttl", "EXECBOX_QUEUE_RESULT_TTL", 24*time.Hour, "how long finished submissions stay in the queue (the store keeps them)")
	fs.Int(&cfg.Worker.Concurrency, "concurrency", "EXECBOX_CONCURRENCY", 2, "jobs run at once (lease loops)")
	fs.Duration(&cfg.Worker.Grace, "grace", "EXECBOX_GRACE", 30*time.Second, "on shutdown, how long in-flight jobs may finish before they are handed back")
	ef := bindExecutor(fs, &cfg.Executor)
	bindGatewayFlags(fs, &cfg.Gateway, &rate)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		if err := ef.finish(&cfg.Executor); err != nil {
			return err
		}
		cfg.Addr = l.addr()
		if cfg.Storage.DatabaseURL == "" && cfg.Storage.DataDir == "" {
			cfg.Storage.DataDir = "execbox-data"
		}
		cfg.Storage.RedisPrefix = cfg.Queue.RedisPrefix
		cfg.Gateway.RateLimit = float64(rate)
		log, err := g.logger("all")
		if err != nil {
			return err
		}
		role, err := all.New(cfg, log)
		if err != nil {
			return err
		}
		return runRole(log, role)
	}
	return c
}
