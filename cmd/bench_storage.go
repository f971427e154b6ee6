package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newBenchStorageCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "storage",
		Short: "Benchmark the storage",
		RunE:  func(*cobra.Command, []string) error { return errors.New("bench storage: not written yet") },
	}
}
