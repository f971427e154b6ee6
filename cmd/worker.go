package cmd

import (
	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/roles/worker"
)

func newWorkerCmd(g *globals) *cobra.Command {
	var (
		cfg worker.Config
		l   listen
	)
	c := &cobra.Command{
		Use:   "worker",
		Short: "Run the worker role: lease jobs, run them on executors, report results",
		Args:  cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, 8087)
	fs.String(&cfg.QueueURL, "queue-url", "EXECBOX_QUEUE_URL", "http://127.0.0.1:8086", "queue role URL")
	fs.Strings(&cfg.ExecutorURLs, "executor-urls", "EXECBOX_EXECUTOR_URLS", []string{"http://127.0.0.1:8088"}, "executor role URLs, comma-separated")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		cfg.Addr = l.addr()
		log, err := g.logger("worker")
		if err != nil {
			return err
		}
		role, err := worker.New(cfg, log)
		if err != nil {
			return err
		}
		ctx, stop := signalContext()
		defer stop()
		return role.Run(ctx)
	}
	return c
}
