//go:build !linux

package agent

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

func run(context.Context, Spec, *emitter, *console) (Result, error) {
	return Result{}, errors.New("the sandbox supervisor runs on Linux only")
}

// ExecLimitedCommand is the trampoline's hidden command (Linux only).
const ExecLimitedCommand = "agent-exec"

// ExecLimited runs on Linux only.
func ExecLimited([]string) error {
	return errors.New("the sandbox supervisor runs on Linux only")
}

type console struct{}

func newConsole(*json.Decoder, time.Duration) *console { return nil }
