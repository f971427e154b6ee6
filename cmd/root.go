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
	"time"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/lifecycle"
	"github.com/execbox/app/pkg/logging"
	"github.com/execbox/app/pkg/memtrim"
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
	pf.String(&g.log.Format, "log-format", "EXECBOX_LOG_FORMAT", "auto", "log format: auto (colored text on a terminal, JSON otherwise), text or json")
	pf.String(&g.log.Level, "log-level", "EXECBOX_LOG_LEVEL", "info", "log level: debug, info, warn or error")
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
	)
	return root
}

// Execute runs the root command and returns the process exit code.
func Execute(out, errOut io.Writer) int {
	root := NewRootCmd(out, errOut)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(errOut, "error:", err)
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

// startupSettle is how long after a role starts its start-up memory is
// released: long enough for connections, migrations and the warm pool.
const startupSettle = 3 * time.Second

// runRole runs a role until SIGINT or SIGTERM. Once its start-up has
// settled, the memory only start-up needed goes back to the kernel
// (pkg/memtrim), so the role idles at its working set.
func runRole(log *slog.Logger, role lifecycle.Service) error {
	ctx, stop := signalContext()
	defer stop()
	go memtrim.AfterStartup(ctx, log, startupSettle)
	return role.Run(ctx)
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
