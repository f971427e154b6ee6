package worker

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/registry"
)

// picker chooses the executor with the most free capacity among the
// static ones (--executor-urls, or app all's in-process one) and those the
// registry lists as live. Capacities are cached for ttl and adjusted by the
// jobs this worker started or finished since, so a burst of jobs spreads
// without asking every time; the registry is re-read every ttl too, so an
// executor that announces itself is used within ttl, and one that
// withdrew, expired or stops answering is not picked again.
type picker struct {
	ttl  time.Duration
	now  func() time.Time
	log  *slog.Logger
	list func(ctx context.Context) ([]registry.Entry, error) // nil: static only
	dial func(url string) executor.Executor

	mu      sync.Mutex
	members []*member // static first, then discovered by name
	listed  time.Time
	listErr error
	next    int // round-robin start for ties
}

// member is one executor the picker may choose.
type member struct {
	ex     executor.Executor
	url    string
	static bool
	entry  registry.Entry // discovered: its last announcement
	pickState
}

type pickState struct {
	free    int // free slots as last reported, minus jobs started since
	ok      bool
	fetched time.Time
	until   time.Time // busy or failed: avoid until then
}

// pickerConfig is what newPicker needs beyond the static executors.
type pickerConfig struct {
	ttl  time.Duration
	now  func() time.Time
	log  *slog.Logger
	list func(ctx context.Context) ([]registry.Entry, error)
	dial func(url string) executor.Executor
}

func newPicker(static []executor.Executor, urls []string, c pickerConfig) *picker {
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	p := &picker{ttl: c.ttl, now: c.now, log: c.log, list: c.list, dial: c.dial}
	for i, ex := range static {
		m := &member{ex: ex, static: true}
		if i < len(urls) {
			m.url = urls[i]
		}
		p.members = append(p.members, m)
	}
	return p
}

// len returns the number of executors known now.
func (p *picker) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.members)
}

// pick returns the executor to try for a job of any language.
func (p *picker) pick(ctx context.Context) (executor.Executor, *member) {
	return p.pickFor(ctx, "")
}

// pickFor returns the executor to try for a job in lang: healthy and
// answering first, then one that has the language's image, then the most
// free slots. With no executor at all it returns one that answers busy, so
// the job waits for an executor to announce itself.
func (p *picker) pickFor(ctx context.Context, lang string) (executor.Executor, *member) {
	p.discover(ctx)
	p.mu.Lock()
	if len(p.members) == 1 && p.list == nil {
		m := p.members[0]
		p.mu.Unlock()
		return m.ex, m
	}
	p.mu.Unlock()
	p.refresh(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.members) == 0 {
		m := &member{ex: noExecutor{retry: p.ttl}}
		return m.ex, m
	}
	now := p.now()
	var best *member
	bestScore := 0
	for k := range p.members {
		m := p.members[(p.next+k)%len(p.members)]
		score := m.free
		if !m.ok || (!m.static && !m.entry.Healthy) {
			score -= 1 << 20
		}
		if !m.static && !m.entry.Has(lang) {
			score -= 1 << 15
		}
		if now.Before(m.until) {
			score -= 1 << 10
		}
		if best == nil || score > bestScore {
			best, bestScore = m, score
		}
	}
	p.next = (p.next + 1) % len(p.members)
	return best.ex, best
}

// discover re-reads the registry when its last reading is older than ttl:
// new executors join, withdrawn and expired ones leave (jobs running on
// them finish undisturbed).
func (p *picker) discover(ctx context.Context) {
	if p.list == nil {
		return
	}
	p.mu.Lock()
	if p.now().Sub(p.listed) < p.ttl {
		p.mu.Unlock()
		return
	}
	p.listed = p.now() // one reader at a time
	p.mu.Unlock()
	lctx, cancel := context.WithTimeout(ctx, time.Second)
	entries, err := p.list(lctx)
	cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		// Keep what we know: the executors answer (or fail) by themselves.
		if p.listErr == nil {
			p.log.Warn("executor registry unreadable; keeping the executors known", "err", err)
		}
		p.listErr = err
		return
	}
	p.listErr = nil
	byURL := map[string]*member{}
	var static []*member
	for _, m := range p.members {
		if m.static {
			static = append(static, m)
		} else {
			byURL[m.url] = m
		}
	}
	var found []*member
	for _, e := range entries {
		if slices.ContainsFunc(static, func(m *member) bool { return m.url == e.URL }) {
			continue // configured statically too
		}
		m := byURL[e.URL]
		if m == nil {
			m = &member{ex: p.dial(e.URL), url: e.URL}
			m.free, m.ok = e.Free(), e.Healthy
			p.log.Info("executor joined", "executor", e.Name, "url", e.URL, "slots", e.Slots, "healthy", e.Healthy)
		}
		delete(byURL, e.URL)
		m.entry = e
		found = append(found, m)
	}
	for _, m := range byURL {
		p.log.Info("executor left", "executor", m.entry.Name, "url", m.url)
	}
	slices.SortFunc(found, func(a, b *member) int { return strings.Compare(a.entry.Name, b.entry.Name) })
	p.members = append(static, found...)
	if p.next >= len(p.members) {
		p.next = 0
	}
}

// anyHealthy reports whether any executor answered its latest capacity
// probe, probing those whose answer is older than ttl first. Workers do not
// lease while none is healthy.
func (p *picker) anyHealthy(ctx context.Context) bool {
	p.discover(ctx)
	p.refresh(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.members {
		if m.ok && (m.static || m.entry.Healthy) {
			return true
		}
	}
	return false
}

// refresh re-reads the capacities older than ttl, concurrently.
func (p *picker) refresh(ctx context.Context) {
	p.mu.Lock()
	now := p.now()
	var stale []*member
	for _, m := range p.members {
		if now.Sub(m.fetched) >= p.ttl {
			stale = append(stale, m)
			m.fetched = now // one refresher at a time
		}
	}
	p.mu.Unlock()
	if len(stale) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, m := range stale {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			c, err := m.ex.Capacity(cctx)
			p.mu.Lock()
			defer p.mu.Unlock()
			m.ok = err == nil
			m.free = c.Free()
		}()
	}
	wg.Wait()
}

func (p *picker) started(m *member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.free--
}

func (p *picker) finished(m *member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.free++
}

// busy marks an executor full for d.
func (p *picker) busy(m *member, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.until = p.now().Add(d)
	m.free = min(m.free, 0)
}

// failed marks an executor unusable until its next capacity refresh.
func (p *picker) failed(m *member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.ok = false
	m.until = p.now().Add(p.ttl)
}

// noExecutor stands in while no executor is known: every job is "busy"
// and retried, so it waits for one to announce itself instead of failing.
type noExecutor struct{ retry time.Duration }

func (n noExecutor) Execute(context.Context, job.Job) (job.Result, error) {
	return job.Result{}, &executor.BusyError{RetryAfter: max(n.retry, 100*time.Millisecond)}
}
func (noExecutor) Cancel(context.Context, string) error { return nil }
func (noExecutor) Capacity(context.Context) (executor.Capacity, error) {
	return executor.Capacity{}, nil
}
