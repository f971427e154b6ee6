//go:build !linux

package agent

import (
	"context"
	"errors"
)

func run(context.Context, Spec) (Result, error) {
	return Result{}, errors.New("the sandbox supervisor runs on Linux only")
}

// ExecLimitedCommand is the trampoline's hidden command (Linux only).
const ExecLimitedCommand = "agent-exec"

// ExecLimited runs on Linux only.
func ExecLimited([]string) error {
	return errors.New("the sandbox supervisor runs on Linux only")
}
