// Package memq is the in-process job queue: the same semantics as the Redis
// queue (pkg/redisq) held in memory, for `app all` on its embedded defaults.
// Accepted submissions are written to an optional queue.Journal so a restart
// re-queues the ones that never finished.
package memq

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/queue/notify"
)

// Options configures the queue. Zero values take the defaults.
type Options struct {
	// Visibility is the lease duration (default queue.DefaultSettings).
	Visibility time.Duration
	// MaxDeliveries is how many expired deliveries dead-letter a job
	// (default queue.DefaultSettings).
	MaxDeliveries int
	// MaxLength caps the number of queued jobs (0: unlimited).
	MaxLength int64
	// ResultTTL is how long finished submissions stay readable (default
	// queue.DefaultSettings).
	ResultTTL time.Duration
	// MaxFinished caps how many finished submissions stay in memory
	// (default 1000); the oldest go first. Storage keeps them for good.
	MaxFinished int
	// FeedRedeliver is how long a feed item read but not acknowledged stays
	// with its consumer before it is delivered again (default 1m).
	FeedRedeliver time.Duration
	// Journal, when set, records accepted submissions; New re-queues the
	// unfinished ones.
	Journal queue.Journal
	// Now is the clock for timestamps (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

func (o *Options) defaults() {
	d := queue.DefaultSettings()
	if o.Visibility <= 0 {
		o.Visibility = d.Visibility
	}
	if o.MaxDeliveries <= 0 {
		o.MaxDeliveries = d.MaxDeliveries
	}
	if o.ResultTTL <= 0 {
		o.ResultTTL = d.ResultTTL
	}
	if o.MaxFinished <= 0 {
		o.MaxFinished = 1000
	}
	if o.FeedRedeliver <= 0 {
		o.FeedRedeliver = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

type entry struct {
	sub      job.Submission
	prio     int // index into job.Priorities
	elem     *list.Element
	token    string
	expires  time.Time
	timer    *time.Timer
	fails    int // expired deliveries
	xfails   int // failures on a working executor (Retry with job.OutcomeFailed)
	queuedAt time.Time
	delayed  bool // handed back by Retry, waiting for its back-off
	dead     bool
	finElem  *list.Element
}

type feedEntry struct {
	item      queue.FeedItem
	delivered time.Time
}

// Queue is the in-process queue. It implements queue.Queue and
// queue.ResultFeed.
type Queue struct {
	opts Options
	hub  *notify.Hub

	mu       sync.Mutex
	subs     map[string]*entry
	idem     map[string]string
	queues   [len(job.Priorities)]*list.List
	leased   int64
	delayed  int64
	dead     map[string]*entry
	finished *list.List // *entry in finishing order
	leaseN   uint64

	results   *feed // finished submissions, for storage
	callbacks *feed // finished submissions with a callback_url, for gateways

	live liveStreams // live output and input (live.go)
}

// feed is a list of items read at least once: pending ones not yet
// delivered, in-flight ones delivered but not acknowledged (delivered
// again after FeedRedeliver). Its fields are guarded by Queue.mu.
type feed struct {
	seq      uint64
	pending  *list.List // *feedEntry not yet delivered
	inflight map[string]*feedEntry
	sig      chan struct{} // closed and replaced by each push
}

func newFeed() *feed {
	return &feed{pending: list.New(), inflight: map[string]*feedEntry{}, sig: make(chan struct{})}
}

// push adds an item for s; q.mu must be held.
func (f *feed) push(s job.Submission) {
	f.seq++
	f.pending.PushBack(&feedEntry{item: queue.FeedItem{ID: strconv.FormatUint(f.seq, 10), Submission: s}})
	close(f.sig)
	f.sig = make(chan struct{})
}

var (
	_ queue.Queue      = (*Queue)(nil)
	_ queue.ResultFeed = (*Queue)(nil)
)

// New builds the queue and re-queues the journal's unfinished submissions.
func New(ctx context.Context, opts Options) (*Queue, error) {
	opts.defaults()
	q := &Queue{
		opts:      opts,
		hub:       notify.NewHub(),
		subs:      map[string]*entry{},
		idem:      map[string]string{},
		dead:      map[string]*entry{},
		finished:  list.New(),
		results:   newFeed(),
		callbacks: newFeed(),
	}
	for i := range q.queues {
		q.queues[i] = list.New()
	}
	if opts.Journal != nil {
		subs, err := opts.Journal.Unfinished(ctx)
		if err != nil {
			return nil, fmt.Errorf("memq: read journal: %w", err)
		}
		for _, s := range subs {
			s.Status, s.Result, s.FinishedAt = job.StatusQueued, nil, time.Time{}
			s.UpdatedAt = opts.Now().UTC()
			e := &entry{sub: s, prio: prioIndex(s.Request.Priority), queuedAt: s.UpdatedAt}
			q.subs[s.ID] = e
			if k := s.Request.IdempotencyKey; k != "" {
				q.idem[k] = s.ID
			}
			e.elem = q.queues[e.prio].PushBack(e)
		}
		if len(subs) > 0 {
			opts.Log.Info("re-queued unfinished submissions from the journal", "count", len(subs))
		}
	}
	return q, nil
}

func prioIndex(p job.Priority) int {
	switch p {
	case job.PriorityHigh:
		return 0
	case job.PriorityLow:
		return 2
	}
	return 1
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (q *Queue) now() time.Time { return q.opts.Now().UTC() }

func (q *Queue) depth() int64 {
	var n int64
	for _, l := range q.queues {
		n += int64(l.Len())
	}
	return n
}

// Enqueue implements queue.Queue.
func (q *Queue) Enqueue(ctx context.Context, req job.Request) (job.Submission, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if k := req.IdempotencyKey; k != "" {
		if id, ok := q.idem[k]; ok {
			if e, ok := q.subs[id]; ok {
				s := e.sub
				s.Replayed = true
				return s, nil
			}
		}
	}
	if q.opts.MaxLength > 0 && q.depth() >= q.opts.MaxLength {
		return job.Submission{}, queue.ErrFull
	}
	now := q.now()
	if req.Priority == "" {
		req.Priority = job.PriorityNormal
	}
	s := job.Submission{ID: job.NewID(now), Status: job.StatusQueued, Request: req, CreatedAt: now, UpdatedAt: now}
	if q.opts.Journal != nil {
		if err := q.opts.Journal.Accepted(ctx, s); err != nil {
			return job.Submission{}, fmt.Errorf("memq: journal: %w", err)
		}
	}
	e := &entry{sub: s, prio: prioIndex(req.Priority), queuedAt: now}
	q.subs[s.ID] = e
	if k := req.IdempotencyKey; k != "" {
		q.idem[k] = s.ID
	}
	e.elem = q.queues[e.prio].PushBack(e)
	q.hub.WorkArrived()
	return s, nil
}

// Get implements queue.Queue.
func (q *Queue) Get(_ context.Context, id string) (job.Submission, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.subs[id]
	if !ok {
		return job.Submission{}, queue.ErrNotFound
	}
	return e.sub, nil
}

// order returns the priorities to look at for the n-th lease: mostly
// highest first, but every 5th lease prefers normal and every 10th low, so
// lower priorities are never starved.
func order(n uint64) [3]int {
	switch {
	case n%10 == 0:
		return [3]int{2, 0, 1}
	case n%5 == 0:
		return [3]int{1, 0, 2}
	}
	return [3]int{0, 1, 2}
}

// Lease implements queue.Queue.
func (q *Queue) Lease(ctx context.Context, worker string, wait time.Duration) (*queue.Lease, error) {
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	for {
		q.mu.Lock()
		l := q.take()
		sig := q.hub.WorkSignal()
		q.mu.Unlock()
		if l != nil {
			return l, nil
		}
		if timeout == nil {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timeout:
			return nil, nil
		case <-sig:
		}
	}
}

// take leases the next job; q.mu must be held.
func (q *Queue) take() *queue.Lease {
	if q.depth() == 0 {
		return nil
	}
	q.leaseN++
	for _, p := range order(q.leaseN) {
		front := q.queues[p].Front()
		if front == nil {
			continue
		}
		e := q.queues[p].Remove(front).(*entry)
		e.elem = nil
		now := q.now()
		e.token = newToken()
		e.expires = now.Add(q.opts.Visibility)
		e.sub.Status = job.StatusRunning
		e.sub.Attempts++
		e.sub.UpdatedAt = now
		q.leased++
		id, token := e.sub.ID, e.token
		e.timer = time.AfterFunc(q.opts.Visibility, func() { q.expire(id, token) })
		q.hub.Notify(id)
		return &queue.Lease{
			Job:       job.Job{ID: e.sub.ID, Request: e.sub.Request, Attempt: e.sub.Attempts},
			Token:     e.token,
			ExpiresAt: e.expires,
			QueuedAt:  e.queuedAt,
			CreatedAt: e.sub.CreatedAt,
			Failures:  e.xfails,
		}
	}
	return nil
}

// expire runs when a lease's timer fires.
func (q *Queue) expire(id, token string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.subs[id]
	if !ok || e.token != token || e.sub.Status != job.StatusRunning {
		return
	}
	if left := e.expires.Sub(q.now()); left > 0 {
		e.timer = time.AfterFunc(left, func() { q.expire(id, token) })
		return
	}
	q.leased--
	e.token, e.timer = "", nil
	e.fails++
	record(e, job.Attempt{N: e.sub.Attempts, At: q.now(), Outcome: job.OutcomeLeaseExpired})
	if e.fails >= q.opts.MaxDeliveries {
		e.dead = true
		q.dead[id] = e
		q.finish(e, job.Result{Status: job.StatusInternalError, Message: deadMessage(e.fails)})
		q.opts.Log.Warn("job dead-lettered", "id", id, "deliveries", e.fails)
		return
	}
	q.requeueFront(e)
}

func deadMessage(n int) string {
	return fmt.Sprintf("job was delivered %d times and every delivery's lease expired without a result "+
		"(the worker died or stopped heartbeating); moved to the dead-letter list", n)
}

// record appends a to e's history, keeping the last job.MaxHistory. The
// slice is always new: copies of e.sub handed out share the old one.
func record(e *entry, a job.Attempt) {
	h := e.sub.History
	if len(h) >= job.MaxHistory {
		h = h[len(h)-job.MaxHistory+1:]
	}
	e.sub.History = append(append(make([]job.Attempt, 0, len(h)+1), h...), a)
}

// requeueFront puts a job that was leased back at the head of its priority.
func (q *Queue) requeueFront(e *entry) {
	now := q.now()
	e.sub.Status = job.StatusQueued
	e.sub.UpdatedAt = now
	e.queuedAt = now
	e.elem = q.queues[e.prio].PushFront(e)
	q.hub.Notify(e.sub.ID)
	q.hub.WorkArrived()
}

// finish gives e its final result; q.mu must be held.
func (q *Queue) finish(e *entry, res job.Result) {
	now := q.now()
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	if res.FinishedAt.IsZero() {
		res.FinishedAt = now
	}
	e.sub.Status = res.Status
	e.sub.Result = &res
	e.sub.UpdatedAt = now
	e.sub.FinishedAt = now
	e.finElem = q.finished.PushBack(e)
	q.prune(now)
	q.results.push(e.sub)
	if e.sub.Request.CallbackURL != "" {
		q.callbacks.push(job.Submission{ID: e.sub.ID})
	}
	q.hub.Notify(e.sub.ID)
}

// prune forgets the oldest finished submissions beyond MaxFinished or ResultTTL.
func (q *Queue) prune(now time.Time) {
	for f := q.finished.Front(); f != nil; f = q.finished.Front() {
		e := f.Value.(*entry)
		if q.finished.Len() <= q.opts.MaxFinished && now.Sub(e.sub.FinishedAt) < q.opts.ResultTTL {
			return
		}
		q.finished.Remove(f)
		e.finElem = nil
		delete(q.subs, e.sub.ID)
		delete(q.dead, e.sub.ID)
		if k := e.sub.Request.IdempotencyKey; k != "" && q.idem[k] == e.sub.ID {
			delete(q.idem, k)
		}
	}
}

// lookup finds the entry of a lease and checks its token.
func (q *Queue) lookup(l *queue.Lease) (*entry, error) {
	e, ok := q.subs[l.Job.ID]
	if !ok || e.token != l.Token || l.Token == "" {
		return nil, queue.ErrLeaseLost
	}
	switch e.sub.Status {
	case job.StatusRunning:
		return e, nil
	case job.StatusCanceled:
		return nil, queue.ErrCanceled
	}
	return nil, queue.ErrLeaseLost
}

// Extend implements queue.Queue.
func (q *Queue) Extend(_ context.Context, l *queue.Lease) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, err := q.lookup(l)
	if err != nil {
		return err
	}
	e.expires = q.now().Add(q.opts.Visibility)
	l.ExpiresAt = e.expires
	return nil
}

// Complete implements queue.Queue.
func (q *Queue) Complete(_ context.Context, l *queue.Lease, res job.Result) error {
	if !res.Status.Final() {
		return fmt.Errorf("memq: complete with non-final status %q", res.Status)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	e, err := q.lookup(l)
	if err != nil {
		return err
	}
	q.leased--
	q.finish(e, res)
	return nil
}

// Release implements queue.Queue.
func (q *Queue) Release(_ context.Context, l *queue.Lease) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, err := q.lookup(l)
	if err != nil {
		return err
	}
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	e.token = ""
	q.leased--
	q.requeueFront(e)
	return nil
}

// Retry implements queue.Queue.
func (q *Queue) Retry(_ context.Context, l *queue.Lease, a job.Attempt, after time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, err := q.lookup(l)
	if err != nil {
		return err
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	e.token = ""
	q.leased--
	record(e, a)
	if a.Outcome == job.OutcomeFailed {
		e.xfails++
	}
	e.sub.Status, e.sub.UpdatedAt = job.StatusQueued, q.now()
	e.delayed = true
	q.delayed++
	id := e.sub.ID
	e.timer = time.AfterFunc(max(after, 0), func() { q.ready(id, e) })
	q.hub.Notify(id)
	return nil
}

// ready queues a job whose Retry back-off is over.
func (q *Queue) ready(id string, e *entry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.subs[id] != e || !e.delayed {
		return
	}
	e.delayed, e.timer = false, nil
	q.delayed--
	e.queuedAt = q.now()
	e.elem = q.queues[e.prio].PushBack(e)
	q.hub.WorkArrived()
}

// Fail implements queue.Queue.
func (q *Queue) Fail(_ context.Context, l *queue.Lease, a job.Attempt, res job.Result) error {
	if !res.Status.Final() {
		return fmt.Errorf("memq: fail with non-final status %q", res.Status)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	e, err := q.lookup(l)
	if err != nil {
		return err
	}
	q.leased--
	record(e, a)
	e.dead = true
	q.dead[e.sub.ID] = e
	q.finish(e, res)
	q.opts.Log.Warn("job dead-lettered", "id", e.sub.ID, "outcome", a.Outcome, "err", a.Error)
	return nil
}

// Cancel implements queue.Queue.
func (q *Queue) Cancel(_ context.Context, id string) (job.Submission, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.subs[id]
	if !ok {
		return job.Submission{}, queue.ErrNotFound
	}
	switch e.sub.Status {
	case job.StatusQueued:
		if e.delayed {
			e.delayed = false
			q.delayed--
		} else {
			q.queues[e.prio].Remove(e.elem)
			e.elem = nil
		}
	case job.StatusRunning:
		q.leased-- // the token stays, so the holder's Extend sees ErrCanceled
	default:
		return e.sub, queue.ErrFinal
	}
	q.finish(e, job.Result{Status: job.StatusCanceled, Message: "canceled by request"})
	return e.sub, nil
}

// Watch implements queue.Queue.
func (q *Queue) Watch(ctx context.Context, id string) (<-chan job.Submission, error) {
	return notify.Watch(ctx, q.hub, id, 0, q.Get)
}

// DeadLetters implements queue.Queue.
func (q *Queue) DeadLetters(context.Context) ([]job.Submission, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]job.Submission, 0, len(q.dead))
	for _, e := range q.dead {
		out = append(out, e.sub)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Requeue implements queue.Queue.
func (q *Queue) Requeue(_ context.Context, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.dead[id]
	if !ok {
		return fmt.Errorf("%w: %s is not on the dead-letter list", queue.ErrNotFound, id)
	}
	delete(q.dead, id)
	if e.finElem != nil {
		q.finished.Remove(e.finElem)
		e.finElem = nil
	}
	e.dead, e.fails, e.xfails = false, 0, 0
	e.sub.Result, e.sub.FinishedAt = nil, time.Time{}
	now := q.now()
	e.sub.Status, e.sub.UpdatedAt, e.queuedAt = job.StatusQueued, now, now
	e.elem = q.queues[e.prio].PushBack(e)
	q.hub.Notify(id)
	q.hub.WorkArrived()
	return nil
}

// Stats implements queue.Queue.
func (q *Queue) Stats(context.Context) (queue.Stats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := queue.Stats{Depth: map[job.Priority]int64{}, Leased: q.leased, Delayed: q.delayed, DeadLetters: int64(len(q.dead))}
	for i, p := range job.Priorities {
		st.Depth[p] = int64(q.queues[i].Len())
	}
	st.MaxLength = q.opts.MaxLength
	return st, nil
}

// Read implements queue.ResultFeed.
func (q *Queue) Read(ctx context.Context, _ string, max int, block time.Duration) ([]queue.FeedItem, error) {
	return q.read(ctx, q.results, max, block)
}

// Ack implements queue.ResultFeed.
func (q *Queue) Ack(_ context.Context, ids ...string) error { return q.ack(q.results, ids) }

// ReadCallbacks implements queue.CallbackFeed.
// Items are not per consumer here: resume changes nothing.
func (q *Queue) ReadCallbacks(ctx context.Context, _ string, max int, block time.Duration, _ bool) ([]queue.FeedItem, error) {
	return q.read(ctx, q.callbacks, max, block)
}

// AckCallbacks implements queue.CallbackFeed.
func (q *Queue) AckCallbacks(_ context.Context, ids ...string) error { return q.ack(q.callbacks, ids) }

// RecordCallback implements queue.CallbackFeed.
func (q *Queue) RecordCallback(_ context.Context, id string, st job.CallbackState) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.subs[id]
	if !ok {
		return queue.ErrNotFound
	}
	e.sub.Callback = &st
	return nil
}

func (q *Queue) read(ctx context.Context, f *feed, max int, block time.Duration) ([]queue.FeedItem, error) {
	if max <= 0 {
		max = 1
	}
	deadline := time.Now().Add(block)
	for {
		q.mu.Lock()
		now := q.now()
		var out []queue.FeedItem
		next := time.Duration(-1)
		for _, fe := range f.inflight {
			if len(out) >= max {
				break
			}
			if due := fe.delivered.Add(q.opts.FeedRedeliver).Sub(now); due > 0 {
				if next < 0 || due < next {
					next = due
				}
				continue
			}
			fe.delivered = now
			out = append(out, fe.item)
		}
		for len(out) < max && f.pending.Len() > 0 {
			fe := f.pending.Remove(f.pending.Front()).(*feedEntry)
			fe.delivered = now
			f.inflight[fe.item.ID] = fe
			out = append(out, fe.item)
		}
		sig := f.sig
		q.mu.Unlock()
		if len(out) > 0 {
			sort.Slice(out, func(i, j int) bool { return feedLess(out[i].ID, out[j].ID) })
			return out, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		if next >= 0 && next < left {
			left = next
		}
		t := time.NewTimer(left)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-sig:
		case <-t.C:
		}
		t.Stop()
	}
}

func feedLess(a, b string) bool {
	x, _ := strconv.ParseUint(a, 10, 64)
	y, _ := strconv.ParseUint(b, 10, 64)
	return x < y
}

func (q *Queue) ack(f *feed, ids []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, id := range ids {
		delete(f.inflight, id)
	}
	return nil
}
