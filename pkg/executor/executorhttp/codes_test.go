package executorhttp

import (
	"errors"
	"testing"
	"time"

	"github.com/execbox/app/pkg/executor"
)

func TestBusyRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter time.Duration
		want       time.Duration
	}{
		{"given", 3 * time.Second, 3 * time.Second},
		{"missing", 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := BusyProblem(&executor.BusyError{RetryAfter: tt.retryAfter})
			busy, ok := busyError(&p)
			if !ok || !errors.Is(busy, executor.ErrBusy) || busy.RetryAfter != tt.want {
				t.Fatalf("busyError = %+v, %v; want busy after %v", busy, ok, tt.want)
			}
		})
	}
	if _, ok := busyError(errors.New("connection refused")); ok {
		t.Error("a plain error was taken for busy")
	}
}
