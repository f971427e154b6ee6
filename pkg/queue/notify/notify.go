// Package notify holds the wake-up plumbing the queue implementations share:
// a Hub that wakes waiters by submission id (Watch) or for "work arrived"
// (long-poll Lease) without polling loops, and the Watch loop built on it.
package notify

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
)

// Hub fans out change notifications to local subscribers. The zero value is
// not usable; call NewHub.
type Hub struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
	work chan struct{} // closed and replaced on every work notification
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{subs: map[string]map[chan struct{}]struct{}{}, work: make(chan struct{})}
}

// Subscribe returns a channel that receives a (coalesced) signal each time
// Notify(id) is called, and a function that unsubscribes.
func (h *Hub) Subscribe(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	m := h.subs[id]
	if m == nil {
		m = map[chan struct{}]struct{}{}
		h.subs[id] = m
	}
	m[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if m := h.subs[id]; m != nil {
			delete(m, ch)
			if len(m) == 0 {
				delete(h.subs, id)
			}
		}
	}
}

// Notify wakes the subscribers of id.
func (h *Hub) Notify(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// NotifyAll wakes every subscriber (after a reconnect, when notifications
// may have been missed).
func (h *Hub) NotifyAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.subs {
		for ch := range m {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	close(h.work)
	h.work = make(chan struct{})
}

// WorkSignal returns a channel closed at the next WorkArrived. Take it
// before checking for work, then wait on it, so no wake-up is missed.
func (h *Hub) WorkSignal() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.work
}

// WorkArrived wakes every waiting leaser.
func (h *Hub) WorkArrived() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.work)
	h.work = make(chan struct{})
}

// Watch implements queue.Queue.Watch on top of a hub: it subscribes to id,
// sends the current state from get, and sends again whenever a notification
// (or the safety re-check every recheck, covering notifications lost while
// a connection was down) shows a change, until the status is final or ctx
// ends. get's errors end the stream, except that the first one is returned.
func Watch(ctx context.Context, h *Hub, id string, recheck time.Duration,
	get func(ctx context.Context, id string) (job.Submission, error)) (<-chan job.Submission, error) {
	sig, unsub := h.Subscribe(id)
	first, err := get(ctx, id)
	if err != nil {
		unsub()
		return nil, err
	}
	out := make(chan job.Submission, 1)
	go func() {
		defer close(out)
		defer unsub()
		last := first
		select {
		case out <- first:
		case <-ctx.Done():
			return
		}
		if first.Status.Final() {
			return
		}
		var tick <-chan time.Time
		if recheck > 0 {
			t := time.NewTicker(recheck)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
			case <-tick:
			}
			s, err := get(ctx, id)
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, queue.ErrNotFound) {
					return
				}
				continue // transient (Redis down); the re-check retries
			}
			if s.Status == last.Status && s.Attempts == last.Attempts && s.UpdatedAt.Equal(last.UpdatedAt) {
				continue
			}
			last = s
			select {
			case out <- s:
			case <-ctx.Done():
				return
			}
			if s.Status.Final() {
				return
			}
		}
	}()
	return out, nil
}
