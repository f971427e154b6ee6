// Package lifecycle is the small contract every long-running part of execbox
// follows: Run blocks until its context ends (returning nil on a clean stop)
// or until it fails. Group runs several in order and stops them in reverse.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Service is anything that runs until its context ends.
type Service interface {
	Run(ctx context.Context) error
}

// Named is a Service with a name for logs and errors.
type Named struct {
	Name    string
	Service Service
}

// Func adapts a function to Service.
type Func func(ctx context.Context) error

func (f Func) Run(ctx context.Context) error { return f(ctx) }

// Run starts services in order and runs them until ctx ends or one of them
// returns (an error, or nil before ctx ended, which is also a failure: a
// service must not stop on its own). Then it stops the others in reverse
// order, each after the ones started after it have returned, and returns the
// first failure.
func Run(ctx context.Context, log *slog.Logger, services ...Named) error {
	type running struct {
		name   string
		cancel context.CancelFunc
		done   chan struct{}
	}
	failed := make(chan error, len(services))
	var (
		mu    sync.Mutex
		first error
	)
	record := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	started := make([]running, 0, len(services))
	for _, s := range services {
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r := running{name: s.Name, cancel: cancel, done: make(chan struct{})}
		go func(s Named) {
			defer close(r.done)
			err := s.Service.Run(sctx)
			if sctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
				return // asked to stop, and did
			}
			if err == nil {
				err = errors.New("stopped unexpectedly")
			}
			err = fmt.Errorf("%s: %w", s.Name, err)
			record(err)
			failed <- err
		}(s)
		started = append(started, r)
		log.Debug("service started", "service", s.Name)
	}
	select {
	case <-ctx.Done():
	case err := <-failed:
		log.Error("service failed, stopping all", "err", err)
	}
	for i := len(started) - 1; i >= 0; i-- {
		started[i].cancel()
		<-started[i].done
		log.Debug("service stopped", "service", started[i].name)
	}
	mu.Lock()
	defer mu.Unlock()
	return first
}
