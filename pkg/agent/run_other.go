//go:build !linux

package agent

import (
	"context"
	"errors"
)

func run(context.Context, Spec) (Result, error) {
	return Result{}, errors.New("the sandbox supervisor runs on Linux only")
}
