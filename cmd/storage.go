package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/roles/storage"
)

// bindStorageDB binds the flags that say which database to use.
func bindStorageDB(fs *flagenv.Set, cfg *storage.Config) {
	fs.Secret(&cfg.DatabaseURL, "database-url", "DATABASE_URL", "",
		"PostgreSQL URL; empty with --data-dir uses the embedded SQLite store")
	fs.String(&cfg.DataDir, "data-dir", "EXECBOX_DATA_DIR", "", "directory of the embedded SQLite store (when no --database-url)")
}

func newStorageCmd(g *globals) *cobra.Command {
	var (
		cfg storage.Config
		l   listen
	)
	c := &cobra.Command{
		Use:   "storage",
		Short: "Run the storage role: results in PostgreSQL and the history API",
		Long: `Run the storage role: consume finished results from the Redis results stream,
write them to PostgreSQL in batches (acknowledging only after commit), delete
them after --retention, and serve history under /storage/v1.
Schema migrations are applied at start under a PostgreSQL advisory lock;
"app storage migrate" applies them alone.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, 8089)
	bindStorageDB(fs, &cfg)
	fs.String(&cfg.RedisURL, "redis-url", "REDIS_URL", "", "Redis URL of the results stream")
	fs.String(&cfg.RedisPrefix, "redis-prefix", "EXECBOX_REDIS_PREFIX", "", "prefix of the queue's Redis keys")
	fs.Secret(&cfg.InternalToken, "internal-token", "EXECBOX_INTERNAL_TOKEN", "", "bearer token guarding /storage/v1")
	fs.String(&cfg.Consumer, "consumer", "EXECBOX_STORAGE_CONSUMER", "", "consumer name in the results stream group (default: host name)")
	fs.Int(&cfg.BatchSize, "batch-size", "EXECBOX_STORAGE_BATCH_SIZE", 500, "results written per transaction at most")
	fs.Int(&cfg.Writers, "writers", "EXECBOX_STORAGE_WRITERS", 2, "batches written concurrently")
	fs.Duration(&cfg.Retention, "retention", "EXECBOX_STORAGE_RETENTION", 0, "delete results older than this (0 keeps them)")
	fs.Duration(&cfg.RetentionInterval, "retention-interval", "EXECBOX_STORAGE_RETENTION_INTERVAL", time.Minute, "pause between retention sweeps")
	fs.Int(&cfg.RetentionBatch, "retention-batch", "EXECBOX_STORAGE_RETENTION_BATCH", 1000, "rows one retention DELETE removes")
	fs.Duration(&cfg.MaxBackoff, "max-backoff", "EXECBOX_STORAGE_MAX_BACKOFF", 5*time.Second, "longest retry delay while PostgreSQL or Redis is down")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		if cfg.RedisURL == "" && cfg.DatabaseURL != "" {
			return fmt.Errorf("storage: REDIS_URL (--redis-url) is required")
		}
		cfg.Addr = l.addr()
		log, err := g.logger("storage")
		if err != nil {
			return err
		}
		role, err := storage.New(cfg, log, storage.Deps{})
		if err != nil {
			return err
		}
		return runRole(log, role)
	}
	c.AddCommand(newStorageMigrateCmd(g), newStorageKeysCmd(g))
	return c
}

func newStorageMigrateCmd(g *globals) *cobra.Command {
	var (
		cfg     storage.Config
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the embedded schema migrations and exit",
		Long: `Apply the embedded schema migrations and exit. Safe to run while storage
replicas start: every migrator takes the same PostgreSQL advisory lock, so each
migration is applied exactly once.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	bindStorageDB(fs, &cfg)
	fs.Duration(&timeout, "timeout", "EXECBOX_MIGRATE_TIMEOUT", 2*time.Minute, "give up after this long")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		return withMigratedStorage(g, cfg, timeout, func(_ context.Context, _ *storage.Role, applied []int) error {
			fmt.Fprintf(cmd.OutOrStdout(), "applied %d migration(s) %v\n", len(applied), applied)
			return nil
		})
	}
	return c
}

// withMigratedStorage opens the store cfg names, applies its migrations
// (opening the embedded store already does) and runs fn, all within timeout
// and until SIGINT or SIGTERM.
func withMigratedStorage(g *globals, cfg storage.Config, timeout time.Duration, fn func(ctx context.Context, role *storage.Role, applied []int) error) error {
	log, err := g.logger("storage")
	if err != nil {
		return err
	}
	role, err := storage.New(cfg, log, storage.Deps{})
	if err != nil {
		return err
	}
	defer role.Close()
	ctx, stop := signalContext()
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	applied, err := role.Migrate(ctx)
	if err != nil {
		return err
	}
	return fn(ctx, role, applied)
}
