package outage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/execbox/app/pkg/outage"
)

func TestOfAndIsConnection(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		dep  string
		conn bool
	}{
		{"nil", nil, "", false},
		{"refused", refused, "", true},
		{"eof", fmt.Errorf("read: %w", io.EOF), "", true},
		{"canceled", context.Canceled, "", false},
		{"answer", errors.New("ERR wrong type"), "", false},
		{"wrapped", fmt.Errorf("redisq: get: %w", outage.Wrap("Redis", refused)), "Redis", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dep, ok := outage.Of(tt.err)
			if dep != tt.dep || ok != (tt.dep != "") {
				t.Errorf("Of = %q, %v; want %q", dep, ok, tt.dep)
			}
			if got := outage.IsConnection(tt.err); got != tt.conn {
				t.Errorf("IsConnection = %v, want %v", got, tt.conn)
			}
		})
	}
	if outage.Wrap("Redis", nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
}
