// Package redisq is the job queue on Redis: one stream per priority with a
// consumer group, a hash per submission (request, status, attempts, lease
// token, result) that expires some time after completion, a results stream
// storage consumes, and pub/sub notifications that wake long-polling
// leasers and watchers.
//
// Every state change is one Lua script, so it is atomic. Leases are pending
// stream entries: Extend resets the entry's idle time, and an entry idle for
// longer than the visibility timeout is claimed again by the next Lease. The
// lease token in the hash makes a late Complete from an expired delivery
// fail with queue.ErrLeaseLost.
//
// Durability. A call returns only after Redis answered, and Redis answers a
// script only after appending its effects (as one MULTI/EXEC block) to the
// append-only file. So with appendonly yes:
//   - kill -9 of any execbox process loses nothing: the queue role keeps no
//     state of its own, and a dead worker's leases expire after the
//     visibility timeout and are delivered again (up to MaxDeliveries).
//   - appendfsync always: nothing acknowledged is lost, whether Redis is
//     killed, restarted, or the host crashes (the fsync precedes the reply).
//   - appendfsync everysec: kill -9 or a restart of Redis normally loses
//     nothing (the write(2) to the file precedes the reply and the kernel
//     keeps the data), except while the disk stalls, when Redis may postpone
//     that write by up to 2 s; a host crash (kernel panic, power loss) may
//     lose the last 1-2 s of acknowledged changes. Jobs accepted in that
//     window are gone; leases and completions in it are undone, so those
//     jobs run again (at-least-once).
//   - with appendonly no, a Redis restart loses everything since the last
//     RDB snapshot.
//
// Pub/sub notifications are not durable: the listener wakes every waiter
// when it re-subscribes, and waiters re-check on a timer as well.
//
// Give Redis maxmemory-policy noeviction: evicting a job's hash would lose
// the job.
package redisq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/backoff"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/outage"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/queue/notify"
)

// Options configures the queue. Zero values take the defaults.
type Options struct {
	// Prefix starts every key (default DefaultPrefix).
	Prefix string
	// Visibility is the lease duration (default queue.DefaultSettings).
	Visibility time.Duration
	// MaxDeliveries is how many expired deliveries dead-letter a job
	// (default queue.DefaultSettings).
	MaxDeliveries int
	// MaxLength caps the number of queued jobs (0: unlimited).
	MaxLength int64
	// ResultTTL is how long a finished submission stays in Redis (default
	// queue.DefaultSettings).
	ResultTTL time.Duration
	// DeadLetterTTL is how long a dead-lettered submission stays (default 7 days).
	DeadLetterTTL time.Duration
	// FeedGroup is the consumer group on the results stream (default "storage").
	FeedGroup string
	// CallbackGroup is the consumer group on the callbacks stream (default
	// "gateway").
	CallbackGroup string
	// FeedRedeliver is how long a feed item read but not acknowledged stays
	// with its consumer before another consumer claims it (default 1m).
	FeedRedeliver time.Duration
	// Recheck bounds how long a waiting Lease or Watch goes without looking
	// at Redis, covering expired leases and notifications lost while the
	// connection was down (default min(Visibility/2, 1s) for Lease, 5s for
	// Watch).
	Recheck time.Duration
	// Senders is the number of connections that send script calls, each
	// pipelining the calls waiting for it (default 4).
	Senders int
	// WaitReplicas, when positive, makes every state change wait until that
	// many replicas acknowledged it (Redis WAIT), at most WaitTimeout, and
	// fail with ErrNotReplicated otherwise: what a Sentinel failover can
	// lose is then bounded to changes that were never answered 2xx.
	WaitReplicas int
	// WaitTimeout bounds one WAIT (default 1s).
	WaitTimeout time.Duration
	// Now is the clock for timestamps (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

func (o *Options) defaults() {
	d := queue.DefaultSettings()
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Visibility <= 0 {
		o.Visibility = d.Visibility
	}
	if o.MaxDeliveries <= 0 {
		o.MaxDeliveries = d.MaxDeliveries
	}
	if o.ResultTTL <= 0 {
		o.ResultTTL = d.ResultTTL
	}
	if o.DeadLetterTTL <= 0 {
		o.DeadLetterTTL = 7 * 24 * time.Hour
	}
	if o.FeedGroup == "" {
		o.FeedGroup = "storage"
	}
	if o.CallbackGroup == "" {
		o.CallbackGroup = "gateway"
	}
	if o.FeedRedeliver <= 0 {
		o.FeedRedeliver = time.Minute
	}
	if o.Recheck <= 0 {
		o.Recheck = min(o.Visibility/2, time.Second)
	}
	if o.Senders <= 0 {
		o.Senders = 4
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

const (
	group    = "workers"
	consumer = "q"
)

// Queue is the Redis queue. It implements queue.Queue and queue.ResultFeed.
type Queue struct {
	rdb  redis.UniversalClient
	opts Options
	hub  *notify.Hub

	streams  [3]string // by job.Priorities order
	streamP  string
	jobP     string
	depth    string
	results  string
	dead     string
	delayed  string
	idemP    string
	channel  string
	groupsOK sync.Mutex
	groups   bool

	callbacks string
	resFeed   *streamFeed
	cbFeed    *streamFeed

	batch      *batcher
	listenOnce sync.Once
	ctx        context.Context
	cancel     context.CancelFunc
	done       chan struct{}
}

var (
	_ queue.Queue      = (*Queue)(nil)
	_ queue.ResultFeed = (*Queue)(nil)
)

// New returns a queue on rdb. It does not fail when Redis is down:
// operations fail until it is back. The pub/sub listener that wakes Lease
// and Watch starts on their first use; Close stops it. The caller closes rdb.
func New(rdb redis.UniversalClient, opts Options) *Queue {
	opts.defaults()
	p := strings.TrimSuffix(opts.Prefix, ":") + ":"
	q := &Queue{
		rdb:       rdb,
		opts:      opts,
		hub:       notify.NewHub(),
		streamP:   p + "s:",
		jobP:      p + "j:",
		depth:     p + "depth",
		results:   p + "results",
		dead:      p + "dead",
		delayed:   p + "delayed",
		idemP:     p + "idem:",
		channel:   p + "ev",
		callbacks: p + "callbacks",
		done:      make(chan struct{}),
	}
	q.resFeed = newStreamFeed("results", q.results, opts.FeedGroup, decode)
	q.cbFeed = newStreamFeed("callbacks", q.callbacks, opts.CallbackGroup, decodeID)
	for i, pr := range job.Priorities {
		q.streams[i] = q.streamP + string(pr)
	}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	q.batch = newBatcher(q.ctx, rdb, opts.Senders, waitReplicas{n: opts.WaitReplicas, timeout: opts.WaitTimeout})
	return q
}

// startListener starts the notification listener on first use, so a
// process that only reads the result feed holds no subscription.
func (q *Queue) startListener() {
	q.listenOnce.Do(func() { go q.listen(q.ctx) })
}

// Close stops the notification listener. It returns at once: closing the
// subscription ends a pending receive. It does not wait for Reads; cancel
// their contexts (they return at once too).
func (q *Queue) Close() error {
	q.listenOnce.Do(func() { close(q.done) }) // never started
	q.cancel()
	<-q.done
	return nil
}

// Ping checks that Redis answers (for /ready).
func (q *Queue) Ping(ctx context.Context) error { return q.rdb.Ping(ctx).Err() }

// listen feeds pub/sub notifications into the hub. go-redis reconnects and
// re-subscribes by itself; each (re)subscription wakes everyone, since
// notifications sent while disconnected are lost.
func (q *Queue) listen(ctx context.Context) {
	defer close(q.done)
	ps := q.rdb.Subscribe(ctx, q.channel)
	stopped := make(chan struct{})
	defer close(stopped)
	go func() { // Receive does not watch ctx: closing ps unblocks it
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		_ = ps.Close()
	}()
	bo := backoff.New(100*time.Millisecond, 2*time.Second)
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			q.opts.Log.Debug("redis notifications: receive failed", "err", err)
			if bo.Wait(ctx) != nil {
				return
			}
			continue
		}
		bo.Reset()
		switch m := msg.(type) {
		case *redis.Subscription:
			q.hub.NotifyAll()
		case *redis.Message:
			if m.Payload == "" {
				q.hub.WorkArrived()
			} else {
				q.hub.Notify(m.Payload)
			}
		}
	}
}

func (q *Queue) now() time.Time { return q.opts.Now().UTC().Truncate(time.Millisecond) }

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func prioOf(p job.Priority) job.Priority {
	if p == "" {
		return job.PriorityNormal
	}
	return p
}

// ensureGroups creates the consumer groups (idempotent). It runs before the
// first operation and again when Redis lost them (restart without
// persistence).
func (q *Queue) ensureGroups(ctx context.Context, force bool) error {
	q.groupsOK.Lock()
	defer q.groupsOK.Unlock()
	if q.groups && !force {
		return nil
	}
	create := func(stream, g string) error {
		err := q.rdb.XGroupCreateMkStream(ctx, stream, g, "0").Err()
		if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("redisq: create group %s on %s: %w", g, stream, err)
		}
		return nil
	}
	for _, s := range q.streams {
		if err := create(s, group); err != nil {
			return err
		}
	}
	if err := create(q.results, q.opts.FeedGroup); err != nil {
		return err
	}
	if err := create(q.callbacks, q.opts.CallbackGroup); err != nil {
		return err
	}
	q.groups = true
	return nil
}

// redisErr marks a failure to reach Redis (or a Redis still loading its
// data) as an outage of Redis, which the gateway answers with 503 naming it.
func redisErr(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	if outage.IsConnection(err) || errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed) ||
		strings.HasPrefix(err.Error(), "LOADING") || strings.Contains(err.Error(), "i/o timeout") {
		return outage.Wrap("Redis", err)
	}
	return err
}

// run runs a script, creating the consumer groups first when needed.
func (q *Queue) run(ctx context.Context, s *redis.Script, keys []string, args ...any) (any, error) {
	res, err := q.runScript(ctx, s, keys, args...)
	return res, redisErr(err)
}

func (q *Queue) runScript(ctx context.Context, s *redis.Script, keys []string, args ...any) (any, error) {
	if err := q.ensureGroups(ctx, false); err != nil {
		return nil, err
	}
	res, err := q.batch.run(ctx, s, keys, args...)
	if err != nil && strings.Contains(err.Error(), "NOGROUP") {
		if gerr := q.ensureGroups(ctx, true); gerr != nil {
			return nil, gerr
		}
		res, err = q.batch.run(ctx, s, keys, args...)
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return res, err
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Enqueue implements queue.Queue.
func (q *Queue) Enqueue(ctx context.Context, req job.Request) (job.Submission, error) {
	req.Priority = prioOf(req.Priority)
	now := q.now()
	s := job.Submission{ID: job.NewID(now), Status: job.StatusQueued, Request: req, CreatedAt: now, UpdatedAt: now}
	body, err := json.Marshal(req)
	if err != nil {
		return job.Submission{}, fmt.Errorf("redisq: encode request: %w", err)
	}
	hasIdem, idemKey := "0", q.idemP
	if req.IdempotencyKey != "" {
		hasIdem, idemKey = "1", q.idemP+req.IdempotencyKey
	}
	hasCallback := "0"
	if req.CallbackURL != "" {
		hasCallback = "1"
	}
	stream := q.streamP + string(req.Priority)
	res, err := q.run(ctx, enqueueScript, []string{q.jobP + s.ID, stream, q.depth, idemKey},
		s.ID, body, string(req.Priority), ms(now), q.opts.MaxLength, q.channel, hasIdem, hasCallback)
	if err != nil {
		return job.Submission{}, fmt.Errorf("redisq: enqueue: %w", err)
	}
	r, _ := res.([]any)
	if len(r) == 0 {
		return job.Submission{}, fmt.Errorf("redisq: enqueue: unexpected reply %v", res)
	}
	switch r[0] {
	case "ok":
		return s, nil
	case "full":
		return job.Submission{}, queue.ErrFull
	case "dup":
		id, _ := r[1].(string)
		s, err := q.Get(ctx, id)
		s.Replayed = err == nil
		return s, err
	}
	return job.Submission{}, fmt.Errorf("redisq: enqueue: unexpected reply %v", res)
}

// Get implements queue.Queue.
func (q *Queue) Get(ctx context.Context, id string) (job.Submission, error) {
	h, err := q.rdb.HGetAll(ctx, q.jobP+id).Result()
	if err != nil {
		return job.Submission{}, fmt.Errorf("redisq: get: %w", redisErr(err))
	}
	if len(h) == 0 {
		return job.Submission{}, queue.ErrNotFound
	}
	return decode(h)
}

func msTime(v string) time.Time {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// decode builds a submission from a job hash (or its copy on the results
// stream).
func decode(h map[string]string) (job.Submission, error) {
	s := job.Submission{
		ID:         h["id"],
		Status:     job.Status(h["status"]),
		CreatedAt:  msTime(h["created"]),
		UpdatedAt:  msTime(h["updated"]),
		FinishedAt: msTime(h["finished"]),
	}
	s.Attempts, _ = strconv.Atoi(h["att"])
	if raw := h["hist"]; raw != "" {
		s.History = decodeHistory(raw)
	}
	if raw := h["cbst"]; raw != "" {
		var st job.CallbackState
		if json.Unmarshal([]byte(raw), &st) == nil {
			s.Callback = &st
		}
	}
	if err := json.Unmarshal([]byte(h["req"]), &s.Request); err != nil {
		return s, fmt.Errorf("redisq: decode request of %s: %w", s.ID, err)
	}
	if r := h["result"]; r != "" && s.Status.Final() {
		var res job.Result
		if err := json.Unmarshal([]byte(r), &res); err != nil {
			return s, fmt.Errorf("redisq: decode result of %s: %w", s.ID, err)
		}
		if res.FinishedAt.IsZero() {
			res.FinishedAt = s.FinishedAt
		}
		s.Result = &res
	}
	return s, nil
}

// histRec is an attempt as the scripts keep it: the ones the lease script
// records itself carry their time as at_ms (Lua cannot format it).
type histRec struct {
	job.Attempt
	AtMs int64 `json:"at_ms,omitempty"`
}

// decodeHistory reads a job's history; an undecodable one is dropped (it
// is information, not state).
func decodeHistory(raw string) []job.Attempt {
	var recs []histRec
	if err := json.Unmarshal([]byte(raw), &recs); err != nil {
		return nil
	}
	out := make([]job.Attempt, len(recs))
	for i, r := range recs {
		out[i] = r.Attempt
		if out[i].At.IsZero() && r.AtMs > 0 {
			out[i].At = time.UnixMilli(r.AtMs).UTC()
		}
	}
	return out
}

// Lease implements queue.Queue.
func (q *Queue) Lease(ctx context.Context, worker string, wait time.Duration) (*queue.Lease, error) {
	q.startListener()
	deadline := time.Now().Add(wait)
	for {
		sig := q.hub.WorkSignal()
		l, err := q.leaseOnce(ctx, worker)
		if err != nil || l != nil {
			return l, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		t := time.NewTimer(min(left, q.opts.Recheck))
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

func (q *Queue) leaseOnce(ctx context.Context, worker string) (*queue.Lease, error) {
	now := q.now()
	token := newToken()
	keys := []string{q.streams[0], q.streams[1], q.streams[2], q.depth, q.results, q.dead, q.delayed}
	res, err := q.run(ctx, leaseScript, keys, q.jobP, group, consumer, q.opts.Visibility.Milliseconds(), ms(now),
		token, q.opts.MaxDeliveries, q.channel, int64(q.opts.DeadLetterTTL/time.Second), worker,
		max(q.opts.Recheck.Milliseconds()/2, 10), job.MaxHistory)
	if err != nil {
		return nil, fmt.Errorf("redisq: lease: %w", err)
	}
	r, ok := res.([]any)
	if !ok || len(r) < 6 {
		return nil, nil
	}
	id, _ := r[0].(string)
	body, _ := r[1].(string)
	att, _ := r[2].(int64)
	queued, _ := r[3].(string)
	created, _ := r[4].(string)
	xfails, _ := r[5].(int64)
	l := &queue.Lease{
		Job:       job.Job{ID: id, Attempt: int(att)},
		Token:     token,
		ExpiresAt: now.Add(q.opts.Visibility),
		QueuedAt:  msTime(queued),
		CreatedAt: msTime(created),
		Failures:  int(xfails),
	}
	if err := json.Unmarshal([]byte(body), &l.Job.Request); err != nil {
		return nil, fmt.Errorf("redisq: decode request of %s: %w", id, err)
	}
	return l, nil
}

func leaseErr(op string, res any, err error) error {
	if err != nil {
		return fmt.Errorf("redisq: %s: %w", op, err)
	}
	switch res {
	case "ok":
		return nil
	case "lost":
		return queue.ErrLeaseLost
	case "canceled":
		return queue.ErrCanceled
	}
	return fmt.Errorf("redisq: %s: unexpected reply %v", op, res)
}

// Extend implements queue.Queue.
func (q *Queue) Extend(ctx context.Context, l *queue.Lease) error {
	now := q.now()
	res, err := q.run(ctx, extendScript, []string{q.jobP + l.Job.ID}, l.Token, q.streamP, group, consumer)
	if err := leaseErr("extend", res, err); err != nil {
		return err
	}
	l.ExpiresAt = now.Add(q.opts.Visibility)
	return nil
}

// Complete implements queue.Queue.
func (q *Queue) Complete(ctx context.Context, l *queue.Lease, r job.Result) error {
	if !r.Status.Final() {
		return fmt.Errorf("redisq: complete with non-final status %q", r.Status)
	}
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("redisq: encode result: %w", err)
	}
	res, err := q.run(ctx, completeScript, []string{q.jobP + l.Job.ID, q.depth, q.results},
		l.Token, q.streamP, group, body, string(r.Status), ms(q.now()),
		int64(q.opts.ResultTTL/time.Second), q.channel, l.Job.ID)
	return leaseErr("complete", res, err)
}

// Release implements queue.Queue.
func (q *Queue) Release(ctx context.Context, l *queue.Lease) error {
	res, err := q.run(ctx, releaseScript, []string{q.jobP + l.Job.ID, q.depth},
		l.Token, q.streamP, group, consumer, ms(q.now()), q.channel, l.Job.ID)
	return leaseErr("release", res, err)
}

// Retry implements queue.Queue.
func (q *Queue) Retry(ctx context.Context, l *queue.Lease, a job.Attempt, after time.Duration) error {
	now := q.now()
	rec, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("redisq: encode attempt: %w", err)
	}
	counted := "0"
	if a.Outcome == job.OutcomeFailed {
		counted = "1"
	}
	res, err := q.run(ctx, retryScript, []string{q.jobP + l.Job.ID, q.depth, q.delayed},
		l.Token, q.streamP, group, ms(now), ms(now.Add(max(after, 0))), rec, counted, job.MaxHistory, q.channel, l.Job.ID)
	return leaseErr("retry", res, err)
}

// Fail implements queue.Queue.
func (q *Queue) Fail(ctx context.Context, l *queue.Lease, a job.Attempt, r job.Result) error {
	if !r.Status.Final() {
		return fmt.Errorf("redisq: fail with non-final status %q", r.Status)
	}
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("redisq: encode result: %w", err)
	}
	rec, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("redisq: encode attempt: %w", err)
	}
	res, err := q.run(ctx, failScript, []string{q.jobP + l.Job.ID, q.depth, q.results, q.dead},
		l.Token, q.streamP, group, body, string(r.Status), ms(q.now()),
		int64(q.opts.DeadLetterTTL/time.Second), q.channel, l.Job.ID, rec, job.MaxHistory)
	return leaseErr("fail", res, err)
}

// Cancel implements queue.Queue.
func (q *Queue) Cancel(ctx context.Context, id string) (job.Submission, error) {
	now := q.now()
	body, _ := json.Marshal(job.Result{Status: job.StatusCanceled, Message: "canceled by request", FinishedAt: now})
	res, err := q.run(ctx, cancelScript, []string{q.jobP + id, q.depth, q.results, q.delayed},
		q.streamP, group, ms(now), body, int64(q.opts.ResultTTL/time.Second), q.channel, id)
	if err != nil {
		return job.Submission{}, fmt.Errorf("redisq: cancel: %w", err)
	}
	r, _ := res.([]any)
	if len(r) == 0 || r[0] == "notfound" {
		return job.Submission{}, queue.ErrNotFound
	}
	s, err := decode(pairs(r[1]))
	if err != nil {
		return s, err
	}
	if r[0] == "final" {
		return s, queue.ErrFinal
	}
	return s, nil
}

// pairs turns an HGETALL reply from a script into a map.
func pairs(v any) map[string]string {
	a, _ := v.([]any)
	m := make(map[string]string, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		k, _ := a[i].(string)
		val, _ := a[i+1].(string)
		m[k] = val
	}
	return m
}

// Watch implements queue.Queue.
func (q *Queue) Watch(ctx context.Context, id string) (<-chan job.Submission, error) {
	q.startListener()
	return notify.Watch(ctx, q.hub, id, 5*time.Second, q.Get)
}

// maxDeadList bounds DeadLetters.
const maxDeadList = 1000

// DeadLetters implements queue.Queue: the oldest 1000 dead-lettered jobs.
func (q *Queue) DeadLetters(ctx context.Context) ([]job.Submission, error) {
	ids, err := q.rdb.ZRange(ctx, q.dead, 0, maxDeadList-1).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: dead letters: %w", redisErr(err))
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err = q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, q.jobP+id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisq: dead letters: %w", err)
	}
	out := make([]job.Submission, 0, len(ids))
	var gone []any
	for i, c := range cmds {
		h := c.Val()
		if len(h) == 0 {
			gone = append(gone, ids[i]) // expired (DeadLetterTTL)
			continue
		}
		s, err := decode(h)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(gone) > 0 {
		q.rdb.ZRem(ctx, q.dead, gone...)
	}
	return out, nil
}

// Requeue implements queue.Queue.
func (q *Queue) Requeue(ctx context.Context, id string) error {
	res, err := q.run(ctx, requeueScript, []string{q.jobP + id, q.depth, q.dead}, q.streamP, ms(q.now()), q.channel, id)
	if err != nil {
		return fmt.Errorf("redisq: requeue: %w", err)
	}
	if res == "notfound" {
		return fmt.Errorf("%w: %s is not on the dead-letter list", queue.ErrNotFound, id)
	}
	return nil
}

// Stats implements queue.Queue.
func (q *Queue) Stats(ctx context.Context) (queue.Stats, error) {
	var (
		d  *redis.SliceCmd
		dl *redis.IntCmd
		dy *redis.IntCmd
	)
	_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		d = p.HMGet(ctx, q.depth, "high", "normal", "low", "leased")
		dl = p.ZCard(ctx, q.dead)
		dy = p.ZCard(ctx, q.delayed)
		return nil
	})
	if err != nil {
		return queue.Stats{}, fmt.Errorf("redisq: stats: %w", redisErr(err))
	}
	num := func(v any) int64 {
		s, _ := v.(string)
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	vals := d.Val()
	st := queue.Stats{Depth: map[job.Priority]int64{}, DeadLetters: dl.Val(), Delayed: dy.Val()}
	for i, p := range job.Priorities {
		st.Depth[p] = num(vals[i])
	}
	st.Leased = num(vals[3])
	st.MaxLength = q.opts.MaxLength
	return st, nil
}
