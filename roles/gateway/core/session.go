package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
)

// errRateLimited: the caller's rate limit bucket is empty.
var errRateLimited = errors.New("rate limit exceeded")

// IsRateLimited reports whether err is a rate limit refusal of StartSession.
func IsRateLimited(err error) bool { return errors.Is(err, errRateLimited) }

// IsBusy reports whether err says the service cannot take the run now (in
// flight cap, queue full).
func IsBusy(err error) bool {
	return errors.Is(err, errTooManyInFlight) || ProblemFor(err).Status == 503 || ProblemFor(err).Status == 429
}

// SessionItem is one thing a session tells its client, in order: live
// events (stage, output, gaps), then the final submission.
type SessionItem struct {
	Event  *live.Event
	Result *job.Submission
}

// Session is one interactive run as the WebSocket APIs drive it: queued,
// followed (output and status) and fed (stdin, signals) through the
// queue's live streams, so it works however far the executor is.
type Session struct {
	svc    *Service
	c      Caller
	Sub    job.Submission
	items  chan SessionItem
	cancel context.CancelFunc
	done   chan struct{}
	final  bool
}

// StartSession charges the caller's rate limit, queues jr (made
// interactive) and follows it until ctx ends or Close.
func (s *Service) StartSession(ctx context.Context, c Caller, jr job.Request, api API) (*Session, error) {
	if s.live == nil {
		return nil, ErrNoLive
	}
	if s.limiter != nil {
		d, err := s.limiter.Allow(ctx, c.limitKey, 1)
		if err == nil && !d.Allowed {
			s.metrics.rateLimited.WithLabelValues(api.Name).Inc()
			s.metrics.rejected.WithLabelValues("rate_limited").Inc()
			return nil, fmt.Errorf("%w: retry after %s s", errRateLimited, strconv.Itoa(CeilSeconds(d.RetryAfter)))
		}
	}
	sub, err := s.Enqueue(ctx, c, s.Interactive(jr))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	ss := &Session{svc: s, c: c, Sub: sub, items: make(chan SessionItem, 16), cancel: cancel, done: make(chan struct{})}
	go ss.run(ctx)
	return ss, nil
}

// statusCheck is how often a session looks at its submission's status
// while no output comes (a run canceled or failed before it started ends
// without output). The end of the output says when it finished otherwise,
// so a session holds one long poll on the queue, not a watch too.
const statusCheck = 5 * time.Second

func (ss *Session) run(ctx context.Context) {
	defer close(ss.done)
	defer close(ss.items)
	final := make(chan struct{})
	events := make(chan live.Event, 16)
	go ss.svc.StreamOutput(ctx, ss.Sub.ID, final, events)
	emit := func(it SessionItem) bool {
		select {
		case ss.items <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	check := time.NewTicker(statusCheck)
	defer check.Stop()
	for pending := events; pending != nil; {
		select {
		case ev, ok := <-pending:
			if !ok {
				pending = nil // the end event came: the result is stored next
				continue
			}
			if ev.Kind != live.KindEnd && !emit(SessionItem{Event: &ev}) {
				return
			}
		case <-check.C:
			s, err := ss.svc.Lookup(ctx, ss.c, ss.Sub.ID)
			if err == nil && s.Status.Final() {
				close(final)
				for ev := range events {
					if ev.Kind != live.KindEnd && !emit(SessionItem{Event: &ev}) {
						return
					}
				}
				ss.result(ctx, s, emit)
				return
			}
		case <-ctx.Done():
			return
		}
	}
	close(final)
	for {
		s, final, err := ss.svc.Wait(ctx, ss.c, ss.Sub.ID)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && final:
			ss.result(ctx, s, emit)
			return
		case err != nil:
			ss.result(ctx, job.Submission{ID: ss.Sub.ID, Status: job.StatusInternalError,
				Result: &job.Result{Status: job.StatusInternalError, Message: "lost track of the run: " + err.Error()}}, emit)
			return
		}
	}
}

func (ss *Session) result(ctx context.Context, s job.Submission, emit func(SessionItem) bool) {
	ss.final = true
	ss.svc.Finished(ss.c, ss.Sub.ID)
	emit(SessionItem{Result: &s})
}

// Items delivers the session's events and then its result; it closes
// after the result (or when the session ends early).
func (ss *Session) Items() <-chan SessionItem { return ss.items }

// Input hands one input to the program.
func (ss *Session) Input(ctx context.Context, in live.Input) error {
	return ss.svc.SendInput(ctx, ss.Sub.ID, in)
}

// Close ends the session; a run not yet final is canceled.
func (ss *Session) Close() {
	ss.cancel()
	<-ss.done
	if !ss.final {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ss.svc.Abandon(ctx, ss.c, ss.Sub.ID)
	}
}
