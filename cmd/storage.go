package cmd

import (
	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/roles/storage"
)

func newStorageCmd(g *globals) *cobra.Command {
	var (
		cfg storage.Config
		l   listen
	)
	c := &cobra.Command{
		Use:   "storage",
		Short: "Run the storage role: results in PostgreSQL and the history API",
		Args:  cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, 8089)
	fs.String(&cfg.DatabaseURL, "database-url", "DATABASE_URL", "", "PostgreSQL URL (required)")
	fs.String(&cfg.RedisURL, "redis-url", "REDIS_URL", "", "Redis URL of the results stream (required)")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		cfg.Addr = l.addr()
		log, err := g.logger("storage")
		if err != nil {
			return err
		}
		role, err := storage.New(cfg, log)
		if err != nil {
			return err
		}
		ctx, stop := signalContext()
		defer stop()
		return role.Run(ctx)
	}
	return c
}
