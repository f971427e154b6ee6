package storehttp

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/store"
)

// Error codes of the storage API (httpx.Problem.Code).
const (
	CodeNotFound       = "not_found"
	CodeInvalid        = "invalid"
	CodeKeyNotFound    = "key_not_found"
	CodeKeyExists      = "key_exists"
	CodeNotImplemented = "not_implemented"
	CodeUnavailable    = httpx.CodeUnavailable
)

// sentinelCode is one row of the table both sides use: a store sentinel,
// the problem the server answers for it and the code Client maps back.
type sentinelCode struct {
	err    error
	code   string
	status int
	title  string
}

// sentinelCodes lists the key sentinels before the common ones: a key
// error may wrap store.ErrNotFound or ErrInvalid too.
func sentinelCodes() []sentinelCode {
	return []sentinelCode{
		{err: store.ErrKeyNotFound, code: CodeKeyNotFound, status: http.StatusNotFound, title: "not found"},
		{err: store.ErrKeyExists, code: CodeKeyExists, status: http.StatusConflict, title: "conflict"},
		{err: store.ErrNotFound, code: CodeNotFound, status: http.StatusNotFound, title: "not found"},
		{err: store.ErrInvalid, code: CodeInvalid, status: http.StatusBadRequest, title: "invalid request"},
	}
}

// Problem returns the problem the server answers for a store sentinel in
// err's chain, and false when err is none of them.
func Problem(err error) (httpx.Problem, bool) {
	for _, c := range sentinelCodes() {
		if errors.Is(err, c.err) {
			return httpx.Problem{Status: c.status, Title: c.title, Code: c.code, Detail: err.Error()}, true
		}
	}
	return httpx.Problem{}, false
}

// Sentinel maps a problem's code back to the store's sentinel error, so
// errors.Is works across HTTP; other errors pass through.
func Sentinel(err error) error {
	var p *httpx.Problem
	if !errors.As(err, &p) {
		return err
	}
	for _, c := range sentinelCodes() {
		if p.Code != c.code {
			continue
		}
		if c.err == store.ErrInvalid {
			return fmt.Errorf("%w: %w", c.err, p) // keeps the field errors
		}
		return fmt.Errorf("%w: %s", c.err, p.Detail)
	}
	return err
}
