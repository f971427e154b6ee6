// Package outage names the dependency behind a failure: Redis, PostgreSQL,
// the queue or the storage role being down. Clients of a dependency wrap
// their connection failures with Wrap; the gateway maps any error carrying
// one to a single answer (503, Retry-After, the dependency's name), never
// showing the dependency's address or credentials.
package outage

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
)

// Error is a failure to reach, or be served by, a named dependency.
type Error struct {
	// Dependency names it for people ("Redis", "PostgreSQL", "the queue").
	Dependency string
	Err        error
}

func (e *Error) Error() string { return e.Dependency + " is unavailable: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Wrap returns err as an outage of dependency (nil stays nil).
func Wrap(dependency string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Dependency: dependency, Err: err}
}

// Of returns the dependency an error names, if it carries an outage.
func Of(err error) (string, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Dependency, true
	}
	return "", false
}

// IsConnection reports whether err is a failure to talk to a server at all
// (refused, reset, unreachable, closed mid-answer, DNS), as opposed to an
// answer or the caller's own context ending.
func IsConnection(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var oe *net.OpError
	var de *net.DNSError
	switch {
	case errors.As(err, &oe), errors.As(err, &de):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	}
	return false
}
