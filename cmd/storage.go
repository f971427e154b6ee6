package cmd

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/lifecycle"
	"github.com/execbox/app/roles/storage"
)

func newStorageCmd(g *globals) *cobra.Command {
	var (
		cfg = storage.DefaultConfig()
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
	l.bind(fs, roleHost, storage.DefaultPort)
	cfg.RegisterFlags(fs)
	cfg.RegisterProcessFlags(fs)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		return g.serve(cmd, fs, "storage", func(log *slog.Logger) (lifecycle.Service, error) {
			if cfg.RedisURL == "" && cfg.DatabaseURL != "" {
				return nil, fmt.Errorf("storage: REDIS_URL (--redis-url) is required")
			}
			cfg.Addr, cfg.HTTP = l.addr(), l.http
			return storage.New(cfg, log, storage.Deps{})
		})
	}
	c.AddCommand(newStorageMigrateCmd(g), newStorageKeysCmd(g))
	return c
}

// defaultMigrateTimeout is how long "app storage migrate" tries.
const defaultMigrateTimeout = 2 * time.Minute

func newStorageMigrateCmd(g *globals) *cobra.Command {
	var (
		cfg     = storage.DefaultConfig()
		timeout = defaultMigrateTimeout
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
	cfg.RegisterDatabaseFlags(fs)
	fs.Duration(&timeout, "timeout", "EXECBOX_MIGRATE_TIMEOUT", timeout, "give up after this long")
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
