// Package executorhttp is the executor contract (pkg/executor) over HTTP:
// the error codes of the executor role's internal API under /executor/v1,
// shared by the server (roles/executor) and Client, which workers use
// without depending on the Docker driver.
package executorhttp

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/httpx"
)

// DefaultPort is the executor role's listen port; DefaultURL reaches it on
// this host.
const DefaultPort = 8088

// DefaultURL is the executor role's URL on this host.
func DefaultURL() string { return "http://127.0.0.1:" + strconv.Itoa(DefaultPort) }

// RegisterURLsFlag binds --executor-urls, the executors a worker runs jobs on.
func RegisterURLsFlag(fs *flagenv.Set, urls *[]string) {
	fs.Strings(urls, "executor-urls", "EXECBOX_EXECUTOR_URLS", []string{DefaultURL()}, "executor role URLs, comma-separated")
}

// MaxJobBytes bounds a job on the run endpoint.
const MaxJobBytes = 64 << 20

// Error codes of the executor API (httpx.Problem.Code).
const (
	// CodeBusy: every slot is taken (429, Retry-After).
	CodeBusy = "busy"
	// CodeNotRun: the job could not be run (the run's context ended).
	CodeNotRun = "canceled"
	// CodeInvalid: the job is malformed.
	CodeInvalid = "invalid"
)

// BusyProblem is the server's answer to an *executor.BusyError.
func BusyProblem(busy *executor.BusyError) httpx.Problem {
	return httpx.Problem{Status: http.StatusTooManyRequests, Title: "executor busy", Code: CodeBusy,
		Detail: "every sandbox slot is taken", RetryAfter: busy.RetryAfter}
}

// busyError maps a busy problem back to *executor.BusyError (Retry-After
// defaults to a second), and reports whether it was one.
func busyError(err error) (*executor.BusyError, bool) {
	var p *httpx.Problem
	if !errors.As(err, &p) || p.Code != CodeBusy {
		return nil, false
	}
	ra := p.RetryAfter
	if ra <= 0 {
		ra = time.Second
	}
	return &executor.BusyError{RetryAfter: ra}, true
}
