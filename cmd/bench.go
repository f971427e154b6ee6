package cmd

import "github.com/spf13/cobra"

// newBenchCmd groups the project's benchmarks. Each measures against a
// baseline taken in the same run and reports ratios, since the machines are
// noisy.
func newBenchCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Run the project's benchmarks (ratios against a baseline from the same run)",
	}
	c.AddCommand(newBenchExecutorCmd(g), newBenchQueueCmd(g), newBenchStorageCmd(g), newBenchE2ECmd(g), newBenchLanguagesCmd(g))
	return c
}
