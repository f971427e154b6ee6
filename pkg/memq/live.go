package memq

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/execbox/app/pkg/live"
)

// Bounds of the in-process live streams (app all holds them in its own
// memory): the newest items up to these sizes stay for late readers.
const (
	liveMaxBytes = 256 << 10
	liveMaxItems = 256
)

// stream is one bounded, expiring, append-only stream; cursors are item
// numbers.
type stream[T any] struct {
	items []T
	sizes []int
	bytes int
	base  int64 // number of the first kept item
	wake  chan struct{}
	last  time.Time
}

func (s *stream[T]) append(now time.Time, size int, vs ...T) {
	for _, v := range vs {
		s.items = append(s.items, v)
		s.sizes = append(s.sizes, size)
		s.bytes += size
	}
	for len(s.items) > 1 && (len(s.items) > liveMaxItems || s.bytes > liveMaxBytes) {
		s.bytes -= s.sizes[0]
		var zero T
		s.items[0] = zero
		s.items, s.sizes = s.items[1:], s.sizes[1:]
		s.base++
	}
	s.last = now
	close(s.wake)
	s.wake = make(chan struct{})
}

// after returns the items after cursor and the next cursor.
func (s *stream[T]) after(cursor string) ([]T, string) {
	next := int64(0)
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err == nil {
			next = n
		}
	}
	if next < s.base {
		next = s.base
	}
	end := s.base + int64(len(s.items))
	if next >= end {
		return nil, strconv.FormatInt(max(next, end), 10)
	}
	out := append([]T(nil), s.items[next-s.base:]...)
	return out, strconv.FormatInt(end, 10)
}

// liveStreams holds the live streams of one queue.
type liveStreams struct {
	mu     sync.Mutex
	out    map[string]*stream[live.Event]
	in     map[string]*stream[live.Input]
	pruned time.Time
}

func getStream[T any](m map[string]*stream[T], id string, now time.Time) *stream[T] {
	s := m[id]
	if s == nil {
		s = &stream[T]{wake: make(chan struct{}), last: now}
		m[id] = s
	}
	return s
}

func pruneStreams[T any](m map[string]*stream[T], now time.Time) {
	for id, s := range m {
		if now.Sub(s.last) > live.TTL {
			delete(m, id)
		}
	}
}

func (l *liveStreams) init(now time.Time) {
	if l.out == nil {
		l.out = map[string]*stream[live.Event]{}
		l.in = map[string]*stream[live.Input]{}
	}
	if now.Sub(l.pruned) > time.Minute {
		pruneStreams(l.out, now)
		pruneStreams(l.in, now)
		l.pruned = now
	}
}

var _ live.Hub = (*Queue)(nil)

// Publish implements live.Hub.
func (q *Queue) Publish(_ context.Context, id string, evs ...live.Event) error {
	now := time.Now()
	l := &q.live
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init(now)
	s := getStream(l.out, id, now)
	for _, ev := range evs {
		s.append(now, len(ev.Data)+64, ev)
	}
	return nil
}

// SendInput implements live.Hub.
func (q *Queue) SendInput(_ context.Context, id string, in live.Input) error {
	now := time.Now()
	l := &q.live
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init(now)
	getStream(l.in, id, now).append(now, len(in.Data)+32, in)
	return nil
}

// Output implements live.Hub.
func (q *Queue) Output(ctx context.Context, id, cursor string, wait time.Duration) ([]live.Event, string, error) {
	return readStream(ctx, &q.live, func(l *liveStreams) map[string]*stream[live.Event] { return l.out }, id, cursor, wait)
}

// Input implements live.Hub.
func (q *Queue) Input(ctx context.Context, id, cursor string, wait time.Duration) ([]live.Input, string, error) {
	return readStream(ctx, &q.live, func(l *liveStreams) map[string]*stream[live.Input] { return l.in }, id, cursor, wait)
}

func readStream[T any](ctx context.Context, l *liveStreams, pick func(*liveStreams) map[string]*stream[T], id, cursor string, wait time.Duration) ([]T, string, error) {
	var timer <-chan time.Time
	for {
		now := time.Now()
		l.mu.Lock()
		l.init(now)
		// A reader may come first (a gateway following a queued
		// submission): the stream exists from then on.
		s := getStream(pick(l), id, now)
		items, next := s.after(cursor)
		wake := s.wake
		l.mu.Unlock()
		if len(items) > 0 || wait <= 0 {
			return items, next, nil
		}
		if timer == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-wake:
		case <-timer:
			return nil, next, nil
		case <-ctx.Done():
			return nil, next, ctx.Err()
		}
	}
}
