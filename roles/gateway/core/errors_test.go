package core

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/outage"
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
		{&httpx.Problem{Status: 500, Title: "boom"}, 502, "upstream"},
		{&httpx.Problem{Status: 400, Title: "bad", Code: "x"}, 400, "x"},
		{fmt.Errorf("plain"), 500, "internal"},
		{fmt.Errorf("queue: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}), 503, "unavailable"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), 504, "timeout"},
		{fmt.Errorf("x: %w", store.ErrInvalid), 400, "invalid_request"},
		{fmt.Errorf("redisq: get: %w", outage.Wrap("Redis", errors.New("dial tcp 127.0.0.1:6379: refused"))), 503, "unavailable"},
		{&httpx.Problem{Status: 503, Title: "service unavailable", Code: "unavailable", Detail: "PostgreSQL is unavailable; retry later"}, 503, "unavailable"},
	} {
		p := ProblemFor(tc.err)
		if p.Status != tc.status || p.Code != tc.code {
			t.Errorf("ProblemFor(%v) = %d %s, want %d %s", tc.err, p.Status, p.Code, tc.status, tc.code)
		}
		if p.Status == 503 && (p.RetryAfter <= 0 || strings.Contains(p.Detail, "127.0.0.1")) {
			t.Errorf("ProblemFor(%v) = %+v, want Retry-After and no address", tc.err, p)
		}
	}
}
