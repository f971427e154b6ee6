package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newBenchE2ECmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "e2e",
		Short: "Benchmark the e2e",
		RunE:  func(*cobra.Command, []string) error { return errors.New("bench e2e: not written yet") },
	}
}
