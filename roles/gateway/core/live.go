package core

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
)

// KindGap is the event StreamOutput sends where output is missing (dropped
// for a slow hop, or trimmed from the buffer before a late reader came):
// Size counts the missing bytes.
const KindGap = "gap"

var (
	// ErrUnauthorized: no API key, or an unknown one, where one is needed.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNoLive: this gateway has no live streams (its queue has none).
	ErrNoLive = errors.New("live runs are not available")
)

// Live reports whether live streams are available.
func (s *Service) Live() bool { return s.live != nil }

// PresentedKey returns the API key a request carries in its headers.
func PresentedKey(r *http.Request) (string, bool) { return presentedKey(r) }

// CallerFor resolves the caller of a request whose key may come later than
// its headers (a WebSocket's first message): key is the secret presented
// (empty: none). It answers as Authenticate does: ErrUnauthorized, or an
// error when the store that keeps keys cannot tell.
func (s *Service) CallerFor(ctx context.Context, r *http.Request, key string) (Caller, error) {
	open, err := s.authOpen(ctx)
	if err != nil {
		return Caller{}, err
	}
	if open {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		return Caller{limitKey: "ip:" + host}, nil
	}
	if key == "" {
		s.metrics.rejected.WithLabelValues("unauthenticated").Inc()
		return Caller{}, ErrUnauthorized
	}
	h := sha256.Sum256([]byte(key))
	id, ok := s.keys.lookupHash(h)
	if !ok && s.storeKeys != nil {
		if id, ok, err = s.storeKeys.lookup(ctx, h); err != nil {
			return Caller{}, err
		}
	}
	if !ok {
		s.metrics.rejected.WithLabelValues("unauthenticated").Inc()
		return Caller{}, ErrUnauthorized
	}
	return Caller{keyID: id, limitKey: "key:" + id}, nil
}

// Interactive turns a validated request into an interactive one: its wall
// time limit (the session's length) defaults to and is capped by
// LiveMaxSession, and it ends after LiveIdleTimeout without input or output.
func (s *Service) Interactive(jr job.Request) job.Request {
	maxMs := s.cfg.LiveMaxSession.Milliseconds()
	if jr.Limits.WallTimeMs <= 0 || jr.Limits.WallTimeMs > maxMs {
		jr.Limits.WallTimeMs = maxMs
	}
	jr.Tests, jr.Stdin = nil, ""
	jr.Interactive = &job.Interactive{IdleTimeoutMs: s.cfg.LiveIdleTimeout.Milliseconds()}
	return jr
}

// SendInput hands one input to the interactive submission id (the caller
// created it).
func (s *Service) SendInput(ctx context.Context, id string, in live.Input) error {
	if s.live == nil {
		return ErrNoLive
	}
	return s.live.SendInput(ctx, id, in)
}

// StreamOutput sends the live output of submission id to out, from the
// oldest event still buffered: output and stage events, a KindGap event
// where bytes are missing, and the end event last. It stops at the end
// event, when ctx ends, or (once final is closed, the submission being
// final) when nothing more is buffered; then it closes out. A caller that
// stops reading out must cancel ctx.
func (s *Service) StreamOutput(ctx context.Context, id string, final <-chan struct{}, out chan<- live.Event) {
	defer close(out)
	if s.live == nil {
		return
	}
	send := func(ev live.Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	cursor, next := "", int64(0)
	for ctx.Err() == nil {
		finished := false
		select {
		case <-final:
			finished = true
		default:
		}
		wait := 20 * time.Second
		if finished {
			wait = 0
		}
		pctx, cancel := context.WithCancel(ctx)
		if !finished { // a long poll ends early when the run turns final
			go func() {
				select {
				case <-final:
					cancel()
				case <-pctx.Done():
				}
			}()
		}
		evs, cur, err := s.live.Output(pctx, id, cursor, wait)
		cancel()
		if err != nil {
			if ctx.Err() != nil || finished {
				return
			}
			if !errors.Is(err, context.Canceled) {
				select {
				case <-ctx.Done():
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
			continue
		}
		cursor = cur
		for _, ev := range evs {
			if ev.Kind == live.KindOutput {
				if ev.Offset > next && !send(live.Event{Kind: KindGap, Size: ev.Offset - next}) {
					return
				}
				next = max(next, ev.End())
			}
			if !send(ev) || ev.Kind == live.KindEnd {
				return
			}
		}
		if finished && len(evs) == 0 {
			return
		}
	}
}
