package cmd

import (
	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/roles/gateway"
)

func newGatewayCmd(g *globals) *cobra.Command {
	var (
		cfg gateway.Config
		l   listen
	)
	c := &cobra.Command{
		Use:   "gateway",
		Short: "Run the gateway role: the public HTTP API",
		Args:  cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, 8085)
	fs.String(&cfg.QueueURL, "queue-url", "EXECBOX_QUEUE_URL", "http://127.0.0.1:8086", "queue role URL")
	fs.String(&cfg.StorageURL, "storage-url", "EXECBOX_STORAGE_URL", "http://127.0.0.1:8089", "storage role URL")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		cfg.Addr = l.addr()
		log, err := g.logger("gateway")
		if err != nil {
			return err
		}
		role, err := gateway.New(cfg, log)
		if err != nil {
			return err
		}
		ctx, stop := signalContext()
		defer stop()
		return role.Run(ctx)
	}
	return c
}
