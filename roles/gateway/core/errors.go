package core

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/outage"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/store"
)

// errTooManyInFlight: the key has its maximum number of unfinished
// submissions.
var errTooManyInFlight = errors.New("too many submissions in flight")

// ProblemFor maps an error from the queue, the store or the gateway itself
// to the problem the client sees. It is the only place that decides status
// codes for errors.
func ProblemFor(err error) httpx.Problem {
	var p *httpx.Problem
	switch {
	case errors.Is(err, queue.ErrFull):
		return httpx.Problem{Status: http.StatusServiceUnavailable, Title: "queue full", Code: "queue_full",
			Detail: "the queue holds its maximum number of jobs; retry later", RetryAfter: retryAfter(err, 2*time.Second)}
	case errors.Is(err, errTooManyInFlight):
		return httpx.Problem{Status: http.StatusTooManyRequests, Title: "too many submissions in flight", Code: "too_many_in_flight",
			Detail: err.Error(), RetryAfter: time.Second}
	case errors.Is(err, queue.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return httpx.Problem{Status: http.StatusNotFound, Title: "not found", Code: "not_found", Detail: "no submission with that id"}
	case errors.Is(err, store.ErrInvalid):
		return httpx.Problem{Status: http.StatusBadRequest, Title: "invalid request", Code: "invalid_request", Detail: err.Error()}
	case errors.Is(err, queue.ErrFinal):
		return httpx.Problem{Status: http.StatusConflict, Title: "already finished", Code: "final", Detail: err.Error()}
	case errors.Is(err, queue.ErrCanceled):
		return httpx.Problem{Status: http.StatusConflict, Title: "canceled", Code: "canceled", Detail: err.Error()}
	case isOutage(err):
		// One answer to every backend outage: 503, Retry-After, the
		// dependency's name (Redis, PostgreSQL, the queue, storage), never
		// its address.
		dep, _ := outage.Of(err)
		return httpx.UnavailableProblem(dep)
	case errors.As(err, &p) && p.Status == http.StatusServiceUnavailable && p.Code == httpx.CodeUnavailable:
		// A backing role's own outage answer names what it depends on.
		return httpx.Problem{Status: p.Status, Title: p.Title, Code: p.Code, Detail: p.Detail,
			RetryAfter: retryAfter(err, httpx.UnavailableRetryAfter)}
	case errors.Is(err, context.DeadlineExceeded):
		return httpx.Problem{Status: http.StatusGatewayTimeout, Title: "timeout", Code: "timeout",
			Detail: "a backing service did not answer in time"}
	case isNetError(err):
		return httpx.UnavailableProblem("a backing service")
	case errors.As(err, &p) && p.Status >= 400 && p.Status < 500 && p.Status != http.StatusUnauthorized:
		// A client error reported by a backing service (or the gateway's
		// own decoding) is the client's to see.
		return *p
	case errors.As(err, &p):
		return httpx.Problem{Status: http.StatusBadGateway, Title: "backing service error", Code: "upstream",
			RetryAfter: p.RetryAfter}
	}
	return httpx.Problem{Status: http.StatusInternalServerError, Title: "internal error", Code: "internal"}
}

// isOutage reports an error naming an unavailable dependency.
func isOutage(err error) bool {
	_, ok := outage.Of(err)
	return ok
}

// isNetError reports a failure to reach a backing role (connection refused,
// reset, DNS), which is worth a retry, unlike a bug.
func isNetError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || (errors.As(err, &ne) && !errors.Is(err, context.DeadlineExceeded))
}

func retryAfter(err error, def time.Duration) time.Duration {
	var p *httpx.Problem
	if errors.As(err, &p) && p.RetryAfter > 0 {
		return p.RetryAfter
	}
	return def
}

// WriteError answers err in the shape of api, logging server-side failures.
func (s *Service) WriteError(w http.ResponseWriter, req *http.Request, err error, api API) {
	if req.Context().Err() != nil {
		// The client went away (or the server is stopping): nobody reads
		// the answer, and it is not the backing services' failure.
		httpx.Logger(req.Context(), s.log).Debug("request abandoned", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	p := ProblemFor(err)
	if p.Status >= 500 {
		httpx.Logger(req.Context(), s.log).Error("request failed", "err", err, "status", p.Status)
	}
	if p.Code != "" && p.Status != http.StatusNotFound {
		s.metrics.rejected.WithLabelValues(p.Code).Inc()
	}
	WriteProblem(w, req, p, api)
}

// WriteProblem renders p in the shape of api: problem+json unless the API
// has a shape of its own.
func WriteProblem(w http.ResponseWriter, req *http.Request, p httpx.Problem, api API) {
	if api.WriteProblem != nil {
		api.WriteProblem(w, req, p)
		return
	}
	httpx.WriteProblem(w, req, p)
}

// CeilSeconds rounds d up to whole seconds, as Retry-After and the
// RateLimit headers count.
func CeilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}
