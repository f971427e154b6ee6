package cmd

import (
	"fmt"

	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/bench"
	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/flagenv"
)

func newBenchLanguagesCmd(g *globals) *cobra.Command {
	var (
		opt      bench.LanguagesOptions
		runtimes string
	)
	c := &cobra.Command{
		Use:   "languages [LANGUAGE...]",
		Short: "Benchmark every language: image size, cold and warm hello world, compile time, against docker run",
		Long: `For each language (default: every catalog language with a program in
--programs), run hello world through the sandbox driver (in this process,
against the Docker Engine at DOCKER_HOST) without a pool (cold) and with a
warm pool, and a plain docker run of the same image that writes, compiles
(for compiled languages) and runs the same program; print one row per
language with the image size, the median latencies, their ratios to docker
run and the compile step's time. The binary must be static (CGO_ENABLED=0):
it is also the agent inside the sandboxes.`,
	}
	fs := flagenv.New(c.Flags())
	fs.Int(&opt.Iterations, "iterations", "", 3, "jobs per mode and language")
	fs.String(&opt.Programs, "programs", "", "testdata/languages", "directory of hello world programs, <language>/main.<ext>")
	fs.String(&runtimes, "runtimes", "EXECBOX_RUNTIMES", "", "language catalog file (default: the embedded catalog)")
	fs.String(&opt.AgentBinary, "agent-binary", "EXECBOX_AGENT_BINARY", "", "static execbox binary for the sandboxes (default: this executable)")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		cat, err := catalog.LoadOrDefault(runtimes)
		if err != nil {
			return err
		}
		opt.Catalog, opt.Languages = cat, args
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
		_, err = bench.Languages(ctx, dc, opt, cmd.OutOrStdout())
		return err
	}
	return c
}
