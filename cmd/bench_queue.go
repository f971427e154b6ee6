package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newBenchQueueCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "queue",
		Short: "Benchmark the queue",
		RunE:  func(*cobra.Command, []string) error { return errors.New("bench queue: not written yet") },
	}
}
