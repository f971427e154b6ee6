package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newBenchExecutorCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "executor",
		Short: "Benchmark the executor",
		RunE:  func(*cobra.Command, []string) error { return errors.New("bench executor: not written yet") },
	}
}
