package cmd

import (
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
		Args:  cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, 8086)
	fs.String(&cfg.RedisURL, "redis-url", "REDIS_URL", "", "Redis URL (required)")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		cfg.Addr = l.addr()
		log, err := g.logger("queue")
		if err != nil {
			return err
		}
		role, err := queue.New(cfg, log)
		if err != nil {
			return err
		}
		ctx, stop := signalContext()
		defer stop()
		return role.Run(ctx)
	}
	return c
}
