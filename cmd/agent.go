package cmd

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/agent"
)

// newAgentCmd is the supervisor that runs inside each sandbox container. It
// is hidden: only the executor starts it.
func newAgentCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "agent",
		Short:  "Sandbox supervisor (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return agent.Main(cmd.Context(), os.Stdin, os.Stdout)
		},
	}
}
