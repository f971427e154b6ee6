// Package cmd holds the cobra commands: each maps flags and environment
// variables into a role's Config and runs the role.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/lifecycle"
	"github.com/execbox/app/pkg/logging"
)

// globals are the flags every command shares.
type globals struct {
	log         logging.Options
	printConfig bool
	stderr      io.Writer
}

// NewRootCmd builds the command tree writing to out and errOut.
func NewRootCmd(out, errOut io.Writer) *cobra.Command {
	g := &globals{stderr: errOut}
	root := &cobra.Command{
		Use:   "app",
		Short: "execbox runs untrusted code in hardened Docker sandboxes",
		Long: `execbox runs source code that other programs send it and returns stdout,
stderr, exit status, time, memory and a verdict. One binary runs as any role;
"app all" runs every role in one process.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	pf := flagenv.New(root.PersistentFlags())
	g.log.RegisterFlags(pf)
	root.PersistentFlags().BoolVar(&g.printConfig, "print-config", false, "print the effective configuration (secrets masked) and exit")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if err := pf.Err(); err != nil {
			return err
		}
		return g.log.Validate()
	}
	root.AddCommand(
		newGatewayCmd(g), newQueueCmd(g), newWorkerCmd(g), newExecutorCmd(g), newStorageCmd(g),
		newAllCmd(g), newBenchCmd(g), newVersionCmd(), newHealthcheckCmd(), newAgentCmd(),
		newDockerGuardCmd(g), newAgentExecCmd(), newImagesCmd(g), newRunCmd(),
	)
	return root
}

// Execute runs the root command and returns the process exit code.
func Execute(out, errOut io.Writer) int {
	root := NewRootCmd(out, errOut)
	if err := root.Execute(); err != nil {
		if msg := err.Error(); msg != "" { // app run's exit status prints nothing
			fmt.Fprintln(errOut, "error:", msg)
		}
		var ec exitCoder
		if errors.As(err, &ec) {
			return ec.ExitCode()
		}
		return 1
	}
	return 0
}

type exitCoder interface{ ExitCode() int }

// logger builds the logger for role.
func (g *globals) logger(role string) (*slog.Logger, error) {
	return logging.New(g.stderr, g.log, role)
}

// printed handles --print-config: it prints the flags and reports true.
func (g *globals) printed(cmd *cobra.Command, fs *flagenv.Set) bool {
	if !g.printConfig {
		return false
	}
	fs.Print(cmd.OutOrStdout())
	return true
}

// serve runs the role build returns until SIGINT or SIGTERM, after the
// checks every role command makes: environment values that did not parse,
// and --print-config. The role's Run is pkg/role's Serve.
func (g *globals) serve(cmd *cobra.Command, fs *flagenv.Set, name string, build func(*slog.Logger) (lifecycle.Service, error)) error {
	if err := fs.Err(); err != nil {
		return err
	}
	if g.printed(cmd, fs) {
		return nil
	}
	log, err := g.logger(name)
	if err != nil {
		return err
	}
	r, err := build(log)
	if err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	return r.Run(ctx)
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
