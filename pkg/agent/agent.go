// Package agent is the supervisor that runs inside a sandbox container.
package agent

import (
	"context"
	"errors"
	"io"
)

// Main reads a job on in and writes one JSON result on out.
func Main(ctx context.Context, in io.Reader, out io.Writer) error {
	return errors.New("agent: not written yet")
}
