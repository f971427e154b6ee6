package cmd

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/agent"
)

// newAgentCmd is the supervisor that runs as PID 1 inside each sandbox
// container (see pkg/agent). It is hidden: only the executor starts it, and
// it refuses to run anywhere but as PID 1.
func newAgentCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "agent",
		Short:  "Sandbox supervisor (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return agent.Main(context.Background(), os.Stdin, os.Stdout)
		},
	}
}
