package core

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/store"
)

func TestProblemForMapsSentinels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("x: %w", errTooManyInFlight), 429, "too_many_in_flight"},
		{errCallbacksFull, 503, "callbacks_full"},
		{&httpx.Problem{Status: 500, Title: "boom"}, 502, "upstream"},
		{&httpx.Problem{Status: 400, Title: "bad", Code: "x"}, 400, "x"},
		{fmt.Errorf("plain"), 500, "internal"},
		{fmt.Errorf("queue: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}), 503, "unavailable"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), 504, "timeout"},
		{fmt.Errorf("x: %w", store.ErrInvalid), 400, "invalid_request"},
	} {
		p := ProblemFor(tc.err)
		if p.Status != tc.status || p.Code != tc.code {
			t.Errorf("ProblemFor(%v) = %d %s, want %d %s", tc.err, p.Status, p.Code, tc.status, tc.code)
		}
	}
}
