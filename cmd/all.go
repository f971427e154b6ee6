package cmd

import (
	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/roles/all"
)

func newAllCmd(g *globals) *cobra.Command {
	var (
		cfg all.Config
		l   listen
	)
	c := &cobra.Command{
		Use:   "all",
		Short: "Run every role in one process on one port (embedded queue and store by default)",
		Args:  cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, 8085)
	fs.String(&cfg.Executor.DockerHost, "docker-host", "DOCKER_HOST", "", "Docker Engine address (default: the local socket)")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		cfg.Addr = l.addr()
		log, err := g.logger("all")
		if err != nil {
			return err
		}
		role, err := all.New(cfg, log)
		if err != nil {
			return err
		}
		ctx, stop := signalContext()
		defer stop()
		return role.Run(ctx)
	}
	return c
}
