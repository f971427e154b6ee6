package worker

import (
	"context"
	"sync"
	"time"

	"github.com/execbox/app/pkg/executor"
)

// picker chooses the executor with the most free capacity. Capacities are
// cached for ttl and adjusted by the jobs this worker started or finished
// since, so a burst of jobs spreads without asking every time.
type picker struct {
	exs []executor.Executor
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	state []pickState
	next  int // round-robin start for ties
}

type pickState struct {
	free    int // free slots as last reported, minus jobs started since
	ok      bool
	fetched time.Time
	until   time.Time // busy or failed: avoid until then
}

func newPicker(exs []executor.Executor, ttl time.Duration, now func() time.Time) *picker {
	return &picker{exs: exs, ttl: ttl, now: now, state: make([]pickState, len(exs))}
}

func (p *picker) len() int { return len(p.exs) }

// pick returns the executor to try and its index.
func (p *picker) pick(ctx context.Context) (executor.Executor, int) {
	if len(p.exs) == 1 {
		return p.exs[0], 0
	}
	p.refresh(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	best, bestScore := -1, 0
	for k := range p.exs {
		i := (p.next + k) % len(p.exs)
		s := p.state[i]
		score := s.free
		if !s.ok {
			score = -1 << 20
		}
		if now.Before(s.until) {
			score -= 1 << 10
		}
		if best < 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	p.next = (p.next + 1) % len(p.exs)
	return p.exs[best], best
}

// refresh re-reads the capacities older than ttl, concurrently.
func (p *picker) refresh(ctx context.Context) {
	p.mu.Lock()
	now := p.now()
	var stale []int
	for i, s := range p.state {
		if now.Sub(s.fetched) >= p.ttl {
			stale = append(stale, i)
			p.state[i].fetched = now // one refresher at a time
		}
	}
	p.mu.Unlock()
	if len(stale) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, i := range stale {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			c, err := p.exs[i].Capacity(cctx)
			p.mu.Lock()
			defer p.mu.Unlock()
			p.state[i].ok = err == nil
			p.state[i].free = c.Free()
		}()
	}
	wg.Wait()
}

func (p *picker) started(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state[i].free--
}

func (p *picker) finished(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state[i].free++
}

// busy marks an executor full for d.
func (p *picker) busy(i int, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state[i].until = p.now().Add(d)
	p.state[i].free = min(p.state[i].free, 0)
}

// failed marks an executor unusable until its next capacity refresh.
func (p *picker) failed(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state[i].ok = false
	p.state[i].until = p.now().Add(p.ttl)
}
