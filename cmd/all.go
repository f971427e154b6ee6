package cmd

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/lifecycle"
	"github.com/execbox/app/roles/all"
)

func newAllCmd(g *globals) *cobra.Command {
	var (
		cfg = all.DefaultConfig()
		l   listen
	)
	c := &cobra.Command{
		Use:   "all",
		Short: "Run every role in one process on one port (embedded queue and store by default)",
		Long: `Run every role in one process on one port, wired in-process. With neither
REDIS_URL nor DATABASE_URL it uses an in-process queue and an embedded SQLite
store under --data-dir (default ` + all.DefaultDataDir + `; accepted submissions that never
finished are queued again at the next start); with both it uses Redis and
PostgreSQL exactly as the split roles do. Every tunable of the split roles is
here under the same name.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, localHost, all.DefaultPort)
	cfg.RegisterFlags(fs)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		return g.serve(cmd, fs, "all", func(log *slog.Logger) (lifecycle.Service, error) {
			cfg.Addr, cfg.HTTP = l.addr(), l.http
			return all.New(cfg, log)
		})
	}
	return c
}
