package cmd

import (
	"fmt"
	"os"

	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/bench"
	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/flagenv"
)

func newBenchE2ECmd(g *globals) *cobra.Command {
	var opt bench.E2EOptions
	c := &cobra.Command{
		Use:   "e2e",
		Short: "Benchmark the whole service: end-to-end latency and each role's RSS against the budgets",
		Long: `Start app all (embedded defaults), then the five split roles (with
--redis-url and --database-url), as child processes of this binary on loopback.
For each: read every process's idle RSS, run sequential requests with a warm
pool (latency execbox adds over the program's own run time), then a bounded
load of concurrent POST /v1/execute requests, and print p50/p95 latency and
every process's idle and peak RSS next to the budgets in README.md. The
baseline is docker run of the same program in the same run.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	fs.String(&opt.RuntimesFile, "runtimes", "EXECBOX_RUNTIMES", "", "language catalog file (default: the embedded catalog)")
	fs.String(&opt.RedisURL, "redis-url", "REDIS_URL", "", "Redis for the split shape")
	fs.String(&opt.DatabaseURL, "database-url", "DATABASE_URL", "", "PostgreSQL (a database is created and dropped) for the split shape")
	fs.Int(&opt.Requests, "requests", "", 100, "requests of the load phase")
	fs.Int(&opt.Clients, "clients", "", 50, "concurrent clients of the load phase")
	fs.Int(&opt.Sequential, "sequential", "", 20, "one-at-a-time requests measuring the added latency")
	fs.String(&opt.GoMemLimit, "gomemlimit", "EXECBOX_BENCH_GOMEMLIMIT", "12MiB", "GOMEMLIMIT of every role started (as compose.yaml sets it; empty: inherit the environment)")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		var err error
		if opt.Catalog, err = catalog.LoadOrDefault(opt.RuntimesFile); err != nil {
			return err
		}
		bin, err := os.Executable()
		if err != nil {
			return err
		}
		opt.Binary = bin
		dc, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return fmt.Errorf("docker client: %w", err)
		}
		defer dc.Close()
		ctx, stop := signalContext()
		defer stop()
		return bench.E2E(ctx, dc, opt, cmd.OutOrStdout())
	}
	return c
}
