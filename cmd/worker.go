package cmd

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/lifecycle"
	"github.com/execbox/app/roles/worker"
)

func newWorkerCmd(g *globals) *cobra.Command {
	var (
		cfg = worker.DefaultConfig()
		l   listen
	)
	c := &cobra.Command{
		Use:   "worker",
		Short: "Run the worker role: lease jobs, run them on executors, report results",
		Long: `Run the worker role: --concurrency lease loops long-poll the queue, run each
job on the executor with the most free capacity (backing off on 429), heartbeat
the lease, and report the result. On SIGTERM the worker stops leasing, lets
in-flight jobs finish within --grace, and hands the rest back to the queue.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, roleHost, worker.DefaultPort)
	cfg.RegisterFlags(fs)
	cfg.RegisterProcessFlags(fs)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		return g.serve(cmd, fs, "worker", func(log *slog.Logger) (lifecycle.Service, error) {
			cfg.Addr, cfg.HTTP = l.addr(), l.http
			return worker.New(cfg, log, worker.Deps{})
		})
	}
	return c
}
