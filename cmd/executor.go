package cmd

import (
	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/roles/executor"
)

func newExecutorCmd(g *globals) *cobra.Command {
	var (
		cfg executor.Config
		l   listen
	)
	c := &cobra.Command{
		Use:   "executor",
		Short: "Run the executor role: jobs in hardened Docker sandboxes",
		Args:  cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, 8088)
	fs.String(&cfg.DockerHost, "docker-host", "DOCKER_HOST", "", "Docker Engine address (default: the local socket)")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		cfg.Addr = l.addr()
		log, err := g.logger("executor")
		if err != nil {
			return err
		}
		role, err := executor.New(cfg, log)
		if err != nil {
			return err
		}
		ctx, stop := signalContext()
		defer stop()
		return role.Run(ctx)
	}
	return c
}
