package core

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/execbox/app/pkg/queue"
)

// inflight counts each key's unfinished submissions in this gateway. It
// learns that a submission finished lazily: only when a key reaches its cap
// are its ids checked against the queue, so the common path costs a map
// update. Several gateways each enforce the cap on what they accepted.
type inflight struct {
	mu   sync.Mutex
	keys map[string]*keyFlight
}

type keyFlight struct {
	ids      map[string]struct{}
	reserved int
}

func newInflight() *inflight { return &inflight{keys: map[string]*keyFlight{}} }

func (f *inflight) get(key string) *keyFlight {
	k := f.keys[key]
	if k == nil {
		k = &keyFlight{ids: map[string]struct{}{}}
		f.keys[key] = k
	}
	return k
}

// reserve books n slots for key under the cap max (0: no cap). On success
// the Caller must commit or release each slot.
func (f *inflight) reserve(ctx context.Context, q queue.Queue, key string, n, max int) error {
	if max <= 0 {
		return nil
	}
	if f.tryReserve(key, n, max) {
		return nil
	}
	f.prune(ctx, q, key)
	if f.tryReserve(key, n, max) {
		return nil
	}
	return fmt.Errorf("%w: at most %d unfinished submissions per API key", errTooManyInFlight, max)
}

func (f *inflight) tryReserve(key string, n, max int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.get(key)
	if len(k.ids)+k.reserved+n > max {
		return false
	}
	k.reserved += n
	return true
}

// prune forgets the key's submissions that are final or gone from the
// queue.
func (f *inflight) prune(ctx context.Context, q queue.Queue, key string) {
	f.mu.Lock()
	ids := make([]string, 0, len(f.get(key).ids))
	for id := range f.get(key).ids {
		ids = append(ids, id)
	}
	f.mu.Unlock()
	var done []string
	for _, id := range ids {
		s, err := q.Get(ctx, id)
		if errors.Is(err, queue.ErrNotFound) || (err == nil && s.Status.Final()) {
			done = append(done, id)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.get(key)
	for _, id := range done {
		delete(k.ids, id)
	}
}

// commit turns one reserved slot into the submission id.
func (f *inflight) commit(key, id string, max int) {
	if max <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.get(key)
	k.reserved--
	k.ids[id] = struct{}{}
}

// release gives back n reserved slots.
func (f *inflight) release(key string, n, max int) {
	if max <= 0 || n == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.get(key)
	k.reserved -= n
	if k.reserved == 0 && len(k.ids) == 0 {
		delete(f.keys, key)
	}
}

// done forgets id (a waiter saw it finish).
func (f *inflight) done(key, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := f.keys[key]; k != nil {
		delete(k.ids, id)
		if k.reserved == 0 && len(k.ids) == 0 {
			delete(f.keys, key)
		}
	}
}
