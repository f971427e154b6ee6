package storage

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
)

// fakeFeed is an in-memory queue.ResultFeed for tests: items are delivered
// once each (to any consumer) and recorded when acknowledged.
type fakeFeed struct {
	mu      sync.Mutex
	next    int
	queued  []queue.FeedItem
	pending map[string]queue.FeedItem
	acks    map[string]int // submission id -> times acknowledged
	wake    chan struct{}
	// readErr, when set, fails every Read.
	readErr error
	// onAck runs before an Ack is recorded; an error fails the Ack.
	onAck func(items []queue.FeedItem) error
	// drained is closed once every added item is acknowledged.
	drained  chan struct{}
	expected int
}

func newFakeFeed(expected int) *fakeFeed {
	return &fakeFeed{pending: map[string]queue.FeedItem{}, acks: map[string]int{},
		wake: make(chan struct{}, 1), drained: make(chan struct{}), expected: expected}
}

func (f *fakeFeed) Add(subs ...job.Submission) {
	f.mu.Lock()
	for _, s := range subs {
		f.next++
		f.queued = append(f.queued, queue.FeedItem{ID: strconv.Itoa(f.next), Submission: s})
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fakeFeed) Read(ctx context.Context, consumer string, max int, block time.Duration) ([]queue.FeedItem, error) {
	t := time.NewTimer(block)
	defer t.Stop()
	for {
		f.mu.Lock()
		if f.readErr != nil {
			err := f.readErr
			f.mu.Unlock()
			return nil, err
		}
		if n := min(max, len(f.queued)); n > 0 {
			items := append([]queue.FeedItem(nil), f.queued[:n]...)
			f.queued = f.queued[n:]
			for _, it := range items {
				f.pending[it.ID] = it
			}
			f.mu.Unlock()
			return items, nil
		}
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, nil
		case <-f.wake:
		}
	}
}

func (f *fakeFeed) Ack(ctx context.Context, ids ...string) error {
	f.mu.Lock()
	items := make([]queue.FeedItem, 0, len(ids))
	for _, id := range ids {
		it, ok := f.pending[id]
		if !ok {
			f.mu.Unlock()
			return errors.New("ack of an unknown delivery " + id)
		}
		items = append(items, it)
	}
	onAck := f.onAck
	f.mu.Unlock()
	if onAck != nil {
		if err := onAck(items); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, it := range items {
		delete(f.pending, it.ID)
		f.acks[it.Submission.ID]++
	}
	if len(f.acks) == f.expected && f.expected > 0 {
		select {
		case <-f.drained:
		default:
			close(f.drained)
		}
	}
	return nil
}

func (f *fakeFeed) ackCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]int, len(f.acks))
	for k, v := range f.acks {
		m[k] = v
	}
	return m
}
