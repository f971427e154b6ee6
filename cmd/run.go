package cmd

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/runcli"
)

// exitStatus ends app run with the program's (or the verdict's) exit code
// and nothing printed.
type exitStatus int

func (e exitStatus) Error() string { return "" }
func (e exitStatus) ExitCode() int { return int(e) }

// newRunCmd is the CLI client: it runs a file on a gateway and streams its
// output (see pkg/runcli).
func newRunCmd() *cobra.Command {
	o := runcli.Options{Config: runcli.DefaultConfig()}
	c := &cobra.Command{
		Use:   "run FILE [FILE...] [-- ARGS...]",
		Short: "Run a program on an execbox server, streaming its output; exits with its exit code",
		Long: `Run sends the files (the first is the entry point) to an execbox gateway and
streams the program's stdout and stderr as they are written. With --interactive
the terminal's stdin goes to the program while it runs and Ctrl+C sends it
SIGINT. The exit code is the program's own (128+N when signal N ended it), or:
200 compilation error, 201 time limit, 202 memory limit, 203 output limit,
204 wrong answer, 205 canceled, 206 internal error, 207 the run did not happen.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Files, o.Args = args, nil
			if n := cmd.ArgsLenAtDash(); n >= 0 {
				o.Files, o.Args = args[:n], args[n:]
			}
			o.Stdout, o.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			switch {
			case o.StdinFile == "-":
				o.Stdin = cmd.InOrStdin()
			case o.StdinFile != "":
				f, err := os.Open(o.StdinFile)
				if err != nil {
					return exitError{err, runcli.ExitClient}
				}
				defer f.Close()
				o.Stdin = f
			case o.Interactive:
				o.Stdin = cmd.InOrStdin()
			}
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			o.Interrupt = sigs
			code, err := runcli.Run(cmd.Context(), o)
			if err != nil {
				return exitError{err, code}
			}
			if code != 0 {
				return exitStatus(code)
			}
			return nil
		},
	}
	fs := flagenv.New(c.Flags())
	o.RegisterFlags(fs)
	c.PreRunE = func(*cobra.Command, []string) error { return fs.Err() }
	return c
}

// exitError is an error with app run's exit code.
type exitError struct {
	err  error
	code int
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
func (e exitError) ExitCode() int { return e.code }
