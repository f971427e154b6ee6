package cmd

import (
	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/agent"
)

// newAgentExecCmd is the trampoline the sandbox supervisor starts a step
// through under gVisor (pkg/agent.ExecLimited): it sets the process limit
// as the program's uid and execs the program. Hidden, like "agent".
func newAgentExecCmd() *cobra.Command {
	return &cobra.Command{
		Use:                agent.ExecLimitedCommand + " N PATH ARGV0 [ARG...]",
		Short:              "Sandbox step trampoline (internal)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			return agent.ExecLimited(args)
		},
	}
}
