package cmd

import (
	"fmt"

	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/bench"
	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/flagenv"
)

func newBenchExecutorCmd(g *globals) *cobra.Command {
	var (
		opt      bench.ExecutorOptions
		runtimes string
	)
	c := &cobra.Command{
		Use:   "executor",
		Short: "Benchmark the executor: hello world latency, warm pool on and off, against docker run",
		Long: `Run a hello world through the sandbox driver (in this process, against the
Docker Engine at DOCKER_HOST) with the warm pool on and off, and plain
"docker run --rm --network none IMAGE python3 -c 'print(1)'" of the same image,
then print median and p95 latency of each and their ratios to docker run.
Goal: warm pool at or below 0.2x of docker run. The binary must be static
(CGO_ENABLED=0): it is also the agent inside the sandboxes.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	fs.Int(&opt.Iterations, "iterations", "", 30, "jobs per mode")
	fs.String(&opt.Language, "language", "", "python", "language of the hello world (python, bash or javascript)")
	fs.String(&runtimes, "runtimes", "EXECBOX_RUNTIMES", "", "language catalog file (default: the embedded catalog)")
	fs.String(&opt.AgentBinary, "agent-binary", "EXECBOX_AGENT_BINARY", "", "static execbox binary for the sandboxes (default: this executable)")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		cat, err := catalog.LoadOrDefault(runtimes)
		if err != nil {
			return err
		}
		opt.Catalog = cat
		log, err := g.logger("bench")
		if err != nil {
			return err
		}
		opt.Log = log
		dc, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return fmt.Errorf("docker client: %w", err)
		}
		defer dc.Close()
		ctx, stop := signalContext()
		defer stop()
		_, err = bench.Executor(ctx, dc, opt, cmd.OutOrStdout())
		return err
	}
	return c
}
