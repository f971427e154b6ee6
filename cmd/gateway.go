package cmd

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/lifecycle"
	"github.com/execbox/app/roles/gateway"
)

func newGatewayCmd(g *globals) *cobra.Command {
	var (
		cfg = gateway.DefaultConfig()
		l   listen
	)
	c := &cobra.Command{
		Use:   "gateway",
		Short: "Run the gateway role: the public HTTP API",
		Long: `Run the gateway role: the public HTTP API (native /v1, Judge0 CE and Piston v2
compatible), API keys, rate limits, callbacks, /openapi.json and /docs.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, roleHost, gateway.DefaultPort)
	cfg.RegisterFlags(fs)
	cfg.RegisterProcessFlags(fs)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		return g.serve(cmd, fs, "gateway", func(log *slog.Logger) (lifecycle.Service, error) {
			cfg.Addr, cfg.HTTP = l.addr(), l.http
			return gateway.New(cfg, log, gateway.Deps{})
		})
	}
	return c
}
