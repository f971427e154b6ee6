package cmd

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/lifecycle"
	"github.com/execbox/app/roles/executor"
)

func newExecutorCmd(g *globals) *cobra.Command {
	var (
		cfg = executor.DefaultConfig()
		l   listen
	)
	c := &cobra.Command{
		Use:   "executor",
		Short: "Run the executor role: jobs in hardened Docker sandboxes",
		Long: `Run the executor role: each job runs in a fresh, hardened Docker container
(no network, read-only root, capped tmpfs work directory, all capabilities
dropped but what the supervisor needs, pids/memory/CPU limits) supervised by
this binary's hidden agent mode, mounted read-only from a Docker volume.
The internal API lives under /executor/v1 (run, cancel/{id}, capacity, languages).`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, roleHost, executor.DefaultPort)
	cfg.RegisterFlags(fs)
	cfg.RegisterProcessFlags(fs)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		return g.serve(cmd, fs, "executor", func(log *slog.Logger) (lifecycle.Service, error) {
			cfg.Addr, cfg.HTTP = l.addr(), l.http
			return executor.New(cfg, log)
		})
	}
	return c
}
