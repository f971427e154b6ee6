package cmd

import (
	"bytes"
	"errors"
	"testing"

	"github.com/execbox/app/pkg/role"
)

// TestInternalAPIsClosedByDefault: a split role that serves an internal
// API refuses to start on a non-loopback address without a token, before
// it listens or touches a backing service.
func TestInternalAPIsClosedByDefault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"queue", []string{"queue", "--redis-url", "redis://127.0.0.1:1/0"}},
		{"executor", []string{"executor", "--docker-host", "unix:///nonexistent.sock"}},
		{"storage", []string{"storage", "--database-url", "postgres://nobody@127.0.0.1:1/none?connect_timeout=1", "--redis-url", "redis://127.0.0.1:1/0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			root := NewRootCmd(&out, &errOut)
			root.SetArgs(append(tc.args, "--host", "0.0.0.0", "--port", "0", "--log-format", "json"))
			err := root.Execute()
			if !errors.Is(err, role.ErrOpenInternalAPI) {
				t.Fatalf("app %s on 0.0.0.0 without a token: err = %v, want role.ErrOpenInternalAPI\nstderr: %s", tc.name, err, errOut.String())
			}
		})
	}
}
