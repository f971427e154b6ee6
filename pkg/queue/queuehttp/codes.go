package queuehttp

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/queue"
)

// Error codes of the queue API (httpx.Problem.Code).
const (
	CodeNotFound    = "not_found"
	CodeFull        = "queue_full"
	CodeLeaseLost   = "lease_lost"
	CodeCanceled    = "canceled"
	CodeFinal       = "final"
	CodeInvalid     = "invalid"
	CodeUnavailable = httpx.CodeUnavailable
)

// sentinelCode is one row of the table both sides use: a queue sentinel,
// the problem the server answers for it and the code Client maps back.
type sentinelCode struct {
	err        error
	code       string
	status     int
	title      string
	detail     string // fixed detail; empty: the error's text
	retryAfter time.Duration
}

func sentinelCodes() []sentinelCode {
	return []sentinelCode{
		{err: queue.ErrNotFound, code: CodeNotFound, status: http.StatusNotFound, title: "submission not found"},
		{err: queue.ErrFull, code: CodeFull, status: http.StatusServiceUnavailable, title: "queue is full",
			detail: "the queue holds its maximum number of waiting jobs; retry later", retryAfter: 2 * time.Second},
		{err: queue.ErrLeaseLost, code: CodeLeaseLost, status: http.StatusConflict, title: "lease lost"},
		{err: queue.ErrCanceled, code: CodeCanceled, status: http.StatusConflict, title: "submission canceled"},
		{err: queue.ErrFinal, code: CodeFinal, status: http.StatusConflict, title: "submission already finished"},
	}
}

// Problem returns the problem the server answers for a queue sentinel in
// err's chain, and false when err is none of them.
func Problem(err error) (httpx.Problem, bool) {
	for _, c := range sentinelCodes() {
		if errors.Is(err, c.err) {
			detail := c.detail
			if detail == "" {
				detail = err.Error()
			}
			return httpx.Problem{Status: c.status, Title: c.title, Code: c.code, Detail: detail, RetryAfter: c.retryAfter}, true
		}
	}
	return httpx.Problem{}, false
}

// Sentinel maps a problem's code back to the queue's sentinel error, so
// errors.Is works across HTTP; other errors pass through.
func Sentinel(err error) error {
	var p *httpx.Problem
	if !errors.As(err, &p) {
		return err
	}
	for _, c := range sentinelCodes() {
		if p.Code == c.code {
			return fmt.Errorf("%w (%s)", c.err, p.Detail)
		}
	}
	return err
}
