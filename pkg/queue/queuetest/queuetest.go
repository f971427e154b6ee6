// Package queuetest is the contract suite every queue.Queue implementation
// passes: the in-process queue (pkg/memq), the Redis queue (pkg/redisq) and
// the queue role's HTTP client (roles/queue).
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
)

// Options are the settings a test asks the factory for. Zero values mean the
// implementation's defaults.
type Options struct {
	// Visibility is the lease duration: a lease not extended within it expires.
	Visibility time.Duration
	// MaxDeliveries is how many expired deliveries send a job to the
	// dead-letter list.
	MaxDeliveries int
	// MaxLength is the maximum number of queued jobs (0: unlimited).
	MaxLength int64
	// FeedRedeliver is how long a read but unacknowledged feed item stays with
	// its consumer before another consumer may read it.
	FeedRedeliver time.Duration
}

// Factory builds a fresh, empty, isolated queue for one test and registers
// its cleanup with t.
type Factory func(t *testing.T, opts Options) queue.Queue

// StarvationBound is the most leases a low-priority job may wait while
// higher-priority work keeps arriving.
const StarvationBound = 20

// shortVisibility is the lease duration used by the expiry tests.
const shortVisibility = 400 * time.Millisecond

// Run runs the contract suite against the queues newQ builds.
func Run(t *testing.T, newQ Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newQ Factory)
	}{
		{"EnqueueGet", testEnqueueGet},
		{"FIFOWithinPriority", testFIFO},
		{"PriorityOrder", testPriorityOrder},
		{"NoStarvation", testNoStarvation},
		{"Idempotency", testIdempotency},
		{"MaxLength", testMaxLength},
		{"LeaseWaitsForWork", testLeaseWaits},
		{"LeaseExpiryRedelivery", testLeaseExpiry},
		{"ExtendKeepsLease", testExtendKeepsLease},
		{"StaleCompletionRejected", testStaleCompletion},
		{"ReleaseDoesNotCount", testRelease},
		{"DeadLetterAfterN", testDeadLetter},
		{"RequeueFromDeadLetter", testRequeue},
		{"RetryAfterBackoff", testRetry},
		{"CancelWhileRetrying", testCancelRetrying},
		{"FailDeadLetters", testFail},
		{"CancelQueued", testCancelQueued},
		{"CancelRunning", testCancelRunning},
		{"CompletionWakesWaiter", testCompletionWakesWaiter},
		{"Stats", testStats},
		{"ResultFeed", testResultFeed},
		{"CallbackFeed", testCallbackFeed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newQ)
		})
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Req returns a small valid request with priority p, tagged n in its
// metadata, with the compatibility section a Judge0 request carries.
func Req(p job.Priority, n int) job.Request {
	return job.Request{
		Language: "bash",
		Files:    []job.File{{Name: "main.sh", Content: fmt.Sprintf("echo %d", n)}},
		Priority: p,
		Metadata: map[string]string{"n": fmt.Sprint(n)},
		Compat:   job.Compat{API: "judge0", LanguageID: 46, Base64: true},
	}
}

func enqueue(t *testing.T, ctx context.Context, q queue.Queue, r job.Request) job.Submission {
	t.Helper()
	s, err := q.Enqueue(ctx, r)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return s
}

func lease(t *testing.T, ctx context.Context, q queue.Queue, wait time.Duration) *queue.Lease {
	t.Helper()
	l, err := q.Lease(ctx, "w1", wait)
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	if l == nil {
		t.Fatalf("Lease: no job within %v", wait)
	}
	return l
}

func noLease(t *testing.T, ctx context.Context, q queue.Queue, wait time.Duration) {
	t.Helper()
	l, err := q.Lease(ctx, "w1", wait)
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	if l != nil {
		t.Fatalf("Lease: got job %s (attempt %d), want none", l.Job.ID, l.Job.Attempt)
	}
}

func accepted(msg string) job.Result {
	now := time.Now().UTC()
	return job.Result{Status: job.StatusAccepted, Message: msg, StartedAt: now, FinishedAt: now,
		Run: &job.Step{Verdict: job.StatusAccepted, Stdout: job.Output{Text: "ok\n"}}}
}

func testEnqueueGet(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 10*time.Second)
	q := newQ(t, Options{})
	s := enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	if !job.ValidID(s.ID) || s.Status != job.StatusQueued || s.CreatedAt.IsZero() {
		t.Fatalf("Enqueue returned %+v, want a valid id, status queued and created_at", s)
	}
	got, err := q.Get(ctx, s.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.ID != s.ID || got.Status != job.StatusQueued || got.Request.Metadata["n"] != "1" ||
		got.Request.Files[0].Content != "echo 1" || got.Request.Compat != Req("", 1).Compat || !got.CreatedAt.Equal(s.CreatedAt) {
		t.Fatalf("Get = %+v, want %+v", got, s)
	}
	if _, err := q.Get(ctx, job.NewID(time.Now())); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("Get(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := q.Cancel(ctx, job.NewID(time.Now())); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("Cancel(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := q.Watch(ctx, job.NewID(time.Now())); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("Watch(unknown) error = %v, want ErrNotFound", err)
	}
}

func testFIFO(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{})
	var ids []string
	for i := range 5 {
		ids = append(ids, enqueue(t, ctx, q, Req(job.PriorityNormal, i)).ID)
	}
	for i, want := range ids {
		l := lease(t, ctx, q, time.Second)
		if l.Job.ID != want {
			t.Fatalf("lease %d got %s, want %s (FIFO)", i, l.Job.ID, want)
		}
		if l.Job.Attempt != 1 || l.Token == "" || l.Job.Request.Metadata["n"] != fmt.Sprint(i) ||
			l.Job.Request.Compat != Req("", i).Compat {
			t.Fatalf("lease %d = %+v, want attempt 1, a token and the request", i, l)
		}
		if !l.ExpiresAt.After(time.Now().Add(-time.Second)) {
			t.Fatalf("lease %d expires at %v, in the past", i, l.ExpiresAt)
		}
		s, err := q.Get(ctx, want)
		if err != nil || s.Status != job.StatusRunning || s.Attempts != 1 {
			t.Fatalf("Get after lease = %+v, %v; want running, attempts 1", s, err)
		}
	}
	noLease(t, ctx, q, 50*time.Millisecond)
}

func testPriorityOrder(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{})
	low := enqueue(t, ctx, q, Req(job.PriorityLow, 1))
	normal := enqueue(t, ctx, q, Req("", 2)) // empty means normal
	high := enqueue(t, ctx, q, Req(job.PriorityHigh, 3))
	for i, want := range []string{high.ID, normal.ID, low.ID} {
		l := lease(t, ctx, q, time.Second)
		if l.Job.ID != want {
			t.Fatalf("lease %d got %s (n=%s), want %s: high first, then normal, then low", i, l.Job.ID, l.Job.Request.Metadata["n"], want)
		}
	}
}

func testNoStarvation(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 30*time.Second)
	q := newQ(t, Options{})
	low := enqueue(t, ctx, q, Req(job.PriorityLow, 0))
	for i := range 2 * StarvationBound {
		enqueue(t, ctx, q, Req(job.PriorityHigh, i+1))
	}
	for i := range StarvationBound {
		l := lease(t, ctx, q, time.Second)
		if l.Job.ID == low.ID {
			return
		}
		// keep the high-priority supply topped up
		enqueue(t, ctx, q, Req(job.PriorityHigh, 100+i))
	}
	t.Fatalf("the low-priority job was not leased within %d leases while high-priority work was waiting", StarvationBound)
}

func testIdempotency(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{})
	r := Req(job.PriorityNormal, 1)
	r.IdempotencyKey = "key-1"
	a := enqueue(t, ctx, q, r)
	b := enqueue(t, ctx, q, r)
	if a.ID != b.ID {
		t.Fatalf("same idempotency key gave ids %s and %s", a.ID, b.ID)
	}
	if a.Replayed || !b.Replayed {
		t.Fatalf("replayed = %v then %v, want false for the first answer and true for the replay", a.Replayed, b.Replayed)
	}
	r.IdempotencyKey = "key-2"
	c := enqueue(t, ctx, q, r)
	if c.ID == a.ID {
		t.Fatalf("different idempotency keys gave the same id %s", a.ID)
	}
	l1 := lease(t, ctx, q, time.Second)
	l2 := lease(t, ctx, q, time.Second)
	if l1.Job.ID != a.ID || l2.Job.ID != c.ID {
		t.Fatalf("leased %s, %s; want %s, %s", l1.Job.ID, l2.Job.ID, a.ID, c.ID)
	}
	noLease(t, ctx, q, 50*time.Millisecond)
	// After completion the key still maps to the same submission, which is
	// not run again.
	if err := q.Complete(ctx, l1, accepted("")); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	r.IdempotencyKey = "key-1"
	d := enqueue(t, ctx, q, r)
	if d.ID != a.ID || d.Status != job.StatusAccepted {
		t.Fatalf("re-submit after completion = %s %s, want %s accepted", d.ID, d.Status, a.ID)
	}
	noLease(t, ctx, q, 50*time.Millisecond)
}

func testMaxLength(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{MaxLength: 3})
	var subs []job.Submission
	for i := range 3 {
		subs = append(subs, enqueue(t, ctx, q, Req(job.PriorityNormal, i)))
	}
	if _, err := q.Enqueue(ctx, Req(job.PriorityHigh, 9)); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("Enqueue beyond the maximum length: error %v, want ErrFull", err)
	}
	// A duplicate of an accepted submission is not a new job: never ErrFull.
	r := Req(job.PriorityNormal, 0)
	lease(t, ctx, q, time.Second) // frees a slot: leased jobs do not count
	r.IdempotencyKey = "k"
	enqueue(t, ctx, q, r)
	if _, err := q.Enqueue(ctx, Req(job.PriorityNormal, 10)); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("Enqueue when full again: error %v, want ErrFull", err)
	}
	if again, err := q.Enqueue(ctx, r); err != nil || again.Status != job.StatusQueued {
		t.Fatalf("idempotent re-submit when full = %+v, %v; want the queued submission", again, err)
	}
	if _, err := q.Cancel(ctx, subs[1].ID); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	enqueue(t, ctx, q, Req(job.PriorityNormal, 11)) // canceling freed a slot
}

func testLeaseWaits(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{})
	got := make(chan *queue.Lease, 1)
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		l, err := q.Lease(ctx, "w1", 15*time.Second)
		errc <- err
		got <- l
	}()
	<-started
	s := enqueue(t, ctx, q, Req(job.PriorityLow, 1))
	if err := <-errc; err != nil {
		t.Fatalf("Lease: %v", err)
	}
	if l := <-got; l == nil || l.Job.ID != s.ID {
		t.Fatalf("long-poll Lease = %+v, want the job enqueued while it waited", l)
	}
	// A canceled context ends a long poll.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := q.Lease(cctx, "w1", 15*time.Second)
		done <- err
	}()
	cancel()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Lease did not return after its context was canceled")
	}
}

func testLeaseExpiry(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{Visibility: shortVisibility, MaxDeliveries: 3})
	s := enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	l1 := lease(t, ctx, q, time.Second)
	// Not extended: after the visibility timeout the job is delivered again.
	l2 := lease(t, ctx, q, 10*time.Second)
	if l2.Job.ID != s.ID || l2.Job.Attempt != 2 || l2.Token == l1.Token {
		t.Fatalf("redelivery = id %s attempt %d token %q; want id %s attempt 2 and a new token", l2.Job.ID, l2.Job.Attempt, l2.Token, s.ID)
	}
	if err := q.Extend(ctx, l1); !errors.Is(err, queue.ErrLeaseLost) {
		t.Fatalf("Extend(expired lease) = %v, want ErrLeaseLost", err)
	}
	if err := q.Extend(ctx, l2); err != nil {
		t.Fatalf("Extend(current lease) = %v", err)
	}
	got, err := q.Get(ctx, s.ID)
	if err != nil || got.Status != job.StatusRunning || got.Attempts != 2 {
		t.Fatalf("Get = %+v, %v; want running, attempts 2", got, err)
	}
}

func testExtendKeepsLease(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	const vis = 1500 * time.Millisecond
	q := newQ(t, Options{Visibility: vis})
	enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	l := lease(t, ctx, q, time.Second)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var extendErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(vis / 6)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				if err := q.Extend(ctx, l); err != nil {
					extendErr = err
					return
				}
			}
		}
	}()
	// Two visibility periods pass; the extended lease must not be redelivered.
	other, err := q.Lease(ctx, "w2", 2*vis)
	close(stop)
	wg.Wait()
	if err != nil || other != nil {
		t.Fatalf("Lease while the lease was being extended = %+v, %v; want nothing", other, err)
	}
	if extendErr != nil {
		t.Fatalf("Extend: %v", extendErr)
	}
	if err := q.Complete(ctx, l, accepted("")); err != nil {
		t.Fatalf("Complete after extensions: %v", err)
	}
}

func testStaleCompletion(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{Visibility: shortVisibility, MaxDeliveries: 3})
	s := enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	old := lease(t, ctx, q, time.Second)
	cur := lease(t, ctx, q, 10*time.Second) // after expiry
	if cur.Job.ID != s.ID {
		t.Fatalf("re-leased %s, want %s", cur.Job.ID, s.ID)
	}
	if err := q.Complete(ctx, old, accepted("stale")); !errors.Is(err, queue.ErrLeaseLost) {
		t.Fatalf("Complete(stale lease) = %v, want ErrLeaseLost", err)
	}
	if err := q.Complete(ctx, cur, accepted("second")); err != nil {
		t.Fatalf("Complete(current lease): %v", err)
	}
	if err := q.Complete(ctx, old, accepted("stale")); !errors.Is(err, queue.ErrLeaseLost) && !errors.Is(err, queue.ErrFinal) {
		t.Fatalf("Complete(stale lease) after the final result = %v, want ErrLeaseLost or ErrFinal", err)
	}
	got, err := q.Get(ctx, s.ID)
	if err != nil || got.Status != job.StatusAccepted || got.Result == nil || got.Result.Message != "second" {
		t.Fatalf("Get = %+v, %v; want the second attempt's result", got, err)
	}
	if got.FinishedAt.IsZero() || got.Result.Run == nil || got.Result.Run.Stdout.Text != "ok\n" {
		t.Fatalf("Get = %+v; want finished_at and the full result", got)
	}
}

func testRelease(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{MaxDeliveries: 2})
	s := enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	for i := range 4 {
		l := lease(t, ctx, q, time.Second)
		if l.Job.ID != s.ID {
			t.Fatalf("lease %d got %s, want %s", i, l.Job.ID, s.ID)
		}
		if err := q.Release(ctx, l); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if err := q.Extend(ctx, l); !errors.Is(err, queue.ErrLeaseLost) {
			t.Fatalf("Extend after Release = %v, want ErrLeaseLost", err)
		}
		got, err := q.Get(ctx, s.ID)
		if err != nil || got.Status != job.StatusQueued {
			t.Fatalf("Get after Release = %+v, %v; want queued", got, err)
		}
	}
	l := lease(t, ctx, q, time.Second)
	if err := q.Complete(ctx, l, accepted("")); err != nil {
		t.Fatalf("Complete after releases: %v", err)
	}
}

func deadLetter(t *testing.T, ctx context.Context, q queue.Queue, id string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		l := lease(t, ctx, q, 10*time.Second)
		if l.Job.ID != id || l.Job.Attempt != i {
			t.Fatalf("delivery %d = %s attempt %d, want %s attempt %d", i, l.Job.ID, l.Job.Attempt, id, i)
		}
	}
	// The last delivery expires too; the job must not come back.
	noLease(t, ctx, q, 3*shortVisibility)
}

func testDeadLetter(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 30*time.Second)
	q := newQ(t, Options{Visibility: shortVisibility, MaxDeliveries: 2})
	s := enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	deadLetter(t, ctx, q, s.ID, 2)
	got, err := queue.Wait(ctx, q, s.ID)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if got.Status != job.StatusInternalError || got.Result == nil || got.Result.Status != job.StatusInternalError ||
		!strings.Contains(got.Result.Message, "2") || !strings.Contains(strings.ToLower(got.Result.Message), "deliver") {
		t.Fatalf("dead-lettered submission = %+v (result %+v); want internal_error with a message naming the 2 deliveries", got, got.Result)
	}
	dl, err := q.DeadLetters(ctx)
	if err != nil || len(dl) != 1 || dl[0].ID != s.ID {
		t.Fatalf("DeadLetters = %+v, %v; want [%s]", dl, err, s.ID)
	}
	st, err := q.Stats(ctx)
	if err != nil || st.DeadLetters != 1 || st.Leased != 0 {
		t.Fatalf("Stats = %+v, %v; want 1 dead letter, 0 leased", st, err)
	}
}

func testRequeue(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 30*time.Second)
	q := newQ(t, Options{Visibility: shortVisibility, MaxDeliveries: 1})
	s := enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	if err := q.Requeue(ctx, s.ID); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("Requeue(not dead-lettered) = %v, want ErrNotFound", err)
	}
	deadLetter(t, ctx, q, s.ID, 1)
	if err := q.Requeue(ctx, s.ID); err != nil {
		t.Fatalf("Requeue: %v", err)
	}
	got, err := q.Get(ctx, s.ID)
	if err != nil || got.Status != job.StatusQueued || got.Result != nil {
		t.Fatalf("Get after Requeue = %+v, %v; want queued without a result", got, err)
	}
	if dl, err := q.DeadLetters(ctx); err != nil || len(dl) != 0 {
		t.Fatalf("DeadLetters after Requeue = %+v, %v; want none", dl, err)
	}
	l := lease(t, ctx, q, time.Second)
	if l.Job.ID != s.ID {
		t.Fatalf("leased %s after Requeue, want %s", l.Job.ID, s.ID)
	}
	if err := q.Complete(ctx, l, accepted("")); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if got, _ := q.Get(ctx, s.ID); got.Status != job.StatusAccepted {
		t.Fatalf("status after requeue and completion = %s, want accepted", got.Status)
	}
}

func testCancelQueued(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{})
	s := enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	c, err := q.Cancel(ctx, s.ID)
	if err != nil || c.Status != job.StatusCanceled {
		t.Fatalf("Cancel = %+v, %v; want canceled", c, err)
	}
	got, err := q.Get(ctx, s.ID)
	if err != nil || got.Status != job.StatusCanceled || got.Result == nil || got.Result.Status != job.StatusCanceled || got.FinishedAt.IsZero() {
		t.Fatalf("Get after Cancel = %+v, %v; want canceled with a result", got, err)
	}
	noLease(t, ctx, q, 50*time.Millisecond)
	again, err := q.Cancel(ctx, s.ID)
	if !errors.Is(err, queue.ErrFinal) || again.Status != job.StatusCanceled {
		t.Fatalf("Cancel again = %+v, %v; want ErrFinal with status canceled", again, err)
	}
	if st, err := q.Stats(ctx); err != nil || st.Depth[job.PriorityNormal] != 0 {
		t.Fatalf("Stats after Cancel = %+v, %v; want depth 0", st, err)
	}
}

func testCancelRunning(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{})
	s := enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	l := lease(t, ctx, q, time.Second)
	ch, err := q.Watch(ctx, s.ID)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	c, err := q.Cancel(ctx, s.ID)
	if err != nil || c.Status != job.StatusCanceled {
		t.Fatalf("Cancel(running) = %+v, %v; want canceled", c, err)
	}
	if err := q.Extend(ctx, l); !errors.Is(err, queue.ErrCanceled) {
		t.Fatalf("Extend after Cancel = %v, want ErrCanceled", err)
	}
	err = q.Complete(ctx, l, accepted("late"))
	if err == nil {
		t.Fatal("Complete after Cancel succeeded; want an error")
	}
	var last job.Submission
	for s := range ch {
		last = s
	}
	if last.Status != job.StatusCanceled {
		t.Fatalf("Watch ended with %+v, want canceled", last)
	}
	got, err := q.Get(ctx, s.ID)
	if err != nil || got.Status != job.StatusCanceled {
		t.Fatalf("Get = %+v, %v; want canceled, not overwritten by the late completion", got, err)
	}
	if st, err := q.Stats(ctx); err != nil || st.Leased != 0 {
		t.Fatalf("Stats = %+v, %v; want 0 leased", st, err)
	}
}

func testCompletionWakesWaiter(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{})
	s := enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	ch, err := q.Watch(ctx, s.ID)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	first := <-ch
	if first.Status != job.StatusQueued {
		t.Fatalf("Watch started with %s, want queued", first.Status)
	}
	waited := make(chan job.Submission, 1)
	go func() {
		s, err := queue.Wait(ctx, q, s.ID)
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
		waited <- s
	}()
	l := lease(t, ctx, q, time.Second)
	if next := <-ch; next.Status != job.StatusRunning {
		t.Fatalf("Watch after Lease sent %s, want running", next.Status)
	}
	if err := q.Complete(ctx, l, accepted("done")); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	var last job.Submission
	for s := range ch {
		last = s
	}
	if last.Status != job.StatusAccepted || last.Result == nil || last.Result.Message != "done" {
		t.Fatalf("Watch ended with %+v, want the accepted result", last)
	}
	w := <-waited
	if w.Status != job.StatusAccepted || w.Result == nil || w.Result.Message != "done" {
		t.Fatalf("Wait = %+v, want the accepted result", w)
	}
	// Watch of a finished submission sends it once and closes.
	ch2, err := q.Watch(ctx, s.ID)
	if err != nil {
		t.Fatalf("Watch(finished): %v", err)
	}
	n := 0
	for range ch2 {
		n++
	}
	if n != 1 {
		t.Fatalf("Watch(finished) sent %d values, want 1", n)
	}
}

func testStats(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{})
	enqueue(t, ctx, q, Req(job.PriorityHigh, 1))
	enqueue(t, ctx, q, Req(job.PriorityLow, 2))
	enqueue(t, ctx, q, Req(job.PriorityLow, 3))
	lease(t, ctx, q, time.Second)
	st, err := q.Stats(ctx)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.Depth[job.PriorityHigh] != 0 || st.Depth[job.PriorityNormal] != 0 || st.Depth[job.PriorityLow] != 2 || st.Leased != 1 {
		t.Fatalf("Stats = %+v; want depth high 0, normal 0, low 2 and 1 leased", st)
	}
}

func testResultFeed(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 30*time.Second)
	q := newQ(t, Options{FeedRedeliver: shortVisibility})
	feed, ok := q.(queue.ResultFeed)
	if !ok {
		t.Skip("this implementation does not serve the result feed")
	}
	a := enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	b := enqueue(t, ctx, q, Req(job.PriorityNormal, 2))
	c := enqueue(t, ctx, q, Req(job.PriorityNormal, 3))
	for range 2 {
		l := lease(t, ctx, q, time.Second)
		if err := q.Complete(ctx, l, accepted("")); err != nil {
			t.Fatalf("Complete: %v", err)
		}
	}
	if _, err := q.Cancel(ctx, c.ID); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	items := readFeed(t, ctx, feed, "c1", 3)
	want := map[string]job.Status{a.ID: job.StatusAccepted, b.ID: job.StatusAccepted, c.ID: job.StatusCanceled}
	for _, it := range items {
		if st, ok := want[it.Submission.ID]; !ok || it.Submission.Status != st || it.ID == "" {
			t.Fatalf("feed item %+v not expected (want %v)", it, want)
		}
		if it.Submission.Request.Language != "bash" || it.Submission.Result == nil {
			t.Fatalf("feed item %+v lacks the request or the result", it)
		}
		delete(want, it.Submission.ID)
	}
	// Ack two; the third, unacknowledged, is delivered again later.
	if err := feed.Ack(ctx, items[0].ID, items[1].ID); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	again := readFeed(t, ctx, feed, "c2", 1)
	if again[0].Submission.ID != items[2].Submission.ID {
		t.Fatalf("redelivered %s, want the unacknowledged %s", again[0].Submission.ID, items[2].Submission.ID)
	}
	if err := feed.Ack(ctx, again[0].ID); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if rest, err := feed.Read(ctx, "c3", 10, 3*shortVisibility); err != nil || len(rest) != 0 {
		t.Fatalf("Read after acking everything = %+v, %v; want nothing", rest, err)
	}
}

func readFeed(t *testing.T, ctx context.Context, f queue.ResultFeed, consumer string, n int) []queue.FeedItem {
	t.Helper()
	var items []queue.FeedItem
	for len(items) < n {
		got, err := f.Read(ctx, consumer, 10, 5*time.Second)
		if err != nil {
			t.Fatalf("feed Read: %v", err)
		}
		if len(got) == 0 {
			t.Fatalf("feed Read: got %d items, want %d", len(items), n)
		}
		items = append(items, got...)
	}
	if len(items) != n {
		t.Fatalf("feed Read: got %d items, want %d", len(items), n)
	}
	return items
}

func testRetry(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 30*time.Second)
	q := newQ(t, Options{MaxDeliveries: 2})
	s := enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	l := lease(t, ctx, q, time.Second)
	if l.CreatedAt.IsZero() || !l.CreatedAt.Equal(s.CreatedAt) || l.Failures != 0 {
		t.Fatalf("lease created_at %v failures %d, want %v and 0", l.CreatedAt, l.Failures, s.CreatedAt)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	down := job.Attempt{N: l.Job.Attempt, At: at, Outcome: job.OutcomeUnavailable, Worker: "w1", Error: "connection refused"}
	if err := q.Retry(ctx, l, down, 300*time.Millisecond); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if err := q.Complete(ctx, l, accepted("")); !errors.Is(err, queue.ErrLeaseLost) {
		t.Fatalf("Complete after Retry = %v, want ErrLeaseLost", err)
	}
	got, err := q.Get(ctx, s.ID)
	if err != nil || got.Status != job.StatusQueued || len(got.History) != 1 {
		t.Fatalf("Get after Retry = %+v, %v; want queued with one attempt in its history", got, err)
	}
	if h := got.History[0]; h.N != 1 || h.Outcome != job.OutcomeUnavailable || h.Worker != "w1" || h.Error != "connection refused" || !h.At.Equal(at) {
		t.Fatalf("history[0] = %+v, want %+v", h, down)
	}
	if st, err := q.Stats(ctx); err != nil || st.Delayed != 1 || st.Leased != 0 || st.Depth[job.PriorityNormal] != 0 {
		t.Fatalf("Stats while delayed = %+v, %v; want 1 delayed, nothing queued or leased", st, err)
	}
	// Not before its back-off is over (the lease waits for it).
	start := time.Now()
	l2 := lease(t, ctx, q, 5*time.Second)
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("leased again after %v, before its 300ms back-off", waited)
	}
	if l2.Job.ID != s.ID || l2.Job.Attempt != 2 || l2.Failures != 0 {
		t.Fatalf("second lease %s attempt %d failures %d, want %s, 2, 0 (unavailable is not counted)", l2.Job.ID, l2.Job.Attempt, l2.Failures, s.ID)
	}
	failed := job.Attempt{N: 2, At: at, Outcome: job.OutcomeFailed, Executor: "e1", Error: "sandbox failed"}
	if err := q.Retry(ctx, l2, failed, 0); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	l3 := lease(t, ctx, q, 5*time.Second)
	if l3.Job.Attempt != 3 || l3.Failures != 1 {
		t.Fatalf("third lease attempt %d failures %d, want 3 and 1", l3.Job.Attempt, l3.Failures)
	}
	if err := q.Complete(ctx, l3, accepted("")); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	got, err = q.Get(ctx, s.ID)
	if err != nil || got.Status != job.StatusAccepted || len(got.History) != 2 || got.History[1].Executor != "e1" {
		t.Fatalf("final = %+v, %v; want accepted with both attempts in its history", got, err)
	}
	if st, err := q.Stats(ctx); err != nil || st.Delayed != 0 || st.Leased != 0 || st.DeadLetters != 0 {
		t.Fatalf("Stats at the end = %+v, %v", st, err)
	}
}

func testCancelRetrying(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{})
	s := enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	l := lease(t, ctx, q, time.Second)
	if err := q.Retry(ctx, l, job.Attempt{N: 1, At: time.Now(), Outcome: job.OutcomeUnavailable}, 200*time.Millisecond); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if c, err := q.Cancel(ctx, s.ID); err != nil || c.Status != job.StatusCanceled {
		t.Fatalf("Cancel while delayed = %+v, %v; want canceled", c, err)
	}
	noLease(t, ctx, q, 600*time.Millisecond)
	if st, err := q.Stats(ctx); err != nil || st.Delayed != 0 || st.Depth[job.PriorityNormal] != 0 || st.Leased != 0 {
		t.Fatalf("Stats after cancel = %+v, %v; want nothing delayed, queued or leased", st, err)
	}
}

func testFail(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 20*time.Second)
	q := newQ(t, Options{})
	s := enqueue(t, ctx, q, Req(job.PriorityNormal, 1))
	l := lease(t, ctx, q, time.Second)
	res := job.Result{Status: job.StatusInternalError, Message: "no executor could run the job"}
	a := job.Attempt{N: 1, At: time.Now().UTC(), Outcome: job.OutcomeDeadline, Error: "connection refused"}
	if err := q.Fail(ctx, l, a, res); err != nil {
		t.Fatalf("Fail: %v", err)
	}
	got, err := queue.Wait(ctx, q, s.ID)
	if err != nil || got.Status != job.StatusInternalError || got.Result == nil || got.Result.Message != res.Message ||
		len(got.History) != 1 || got.History[0].Outcome != job.OutcomeDeadline {
		t.Fatalf("after Fail = %+v, %v; want internal_error with its message and the attempt", got, err)
	}
	dl, err := q.DeadLetters(ctx)
	if err != nil || len(dl) != 1 || dl[0].ID != s.ID {
		t.Fatalf("DeadLetters = %+v, %v; want [%s]", dl, err, s.ID)
	}
	if st, err := q.Stats(ctx); err != nil || st.Leased != 0 || st.DeadLetters != 1 {
		t.Fatalf("Stats = %+v, %v; want 0 leased, 1 dead letter", st, err)
	}
	if err := q.Requeue(ctx, s.ID); err != nil {
		t.Fatalf("Requeue: %v", err)
	}
	l2 := lease(t, ctx, q, time.Second)
	if l2.Job.ID != s.ID || l2.Failures != 0 {
		t.Fatalf("leased %s failures %d after Requeue, want %s and 0", l2.Job.ID, l2.Failures, s.ID)
	}
	if err := q.Complete(ctx, l2, accepted("")); err != nil {
		t.Fatalf("Complete: %v", err)
	}
}

func testCallbackFeed(t *testing.T, newQ Factory) {
	ctx := ctxT(t, 30*time.Second)
	q := newQ(t, Options{})
	r := Req(job.PriorityNormal, 1)
	r.CallbackURL = "https://example.test/hook"
	a := enqueue(t, ctx, q, r)
	b := enqueue(t, ctx, q, Req(job.PriorityNormal, 2)) // no callback
	c := enqueue(t, ctx, q, r)
	for range 2 {
		l := lease(t, ctx, q, time.Second)
		if err := q.Complete(ctx, l, accepted("")); err != nil {
			t.Fatalf("Complete: %v", err)
		}
	}
	if _, err := q.Cancel(ctx, c.ID); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	var items []queue.FeedItem
	for len(items) < 2 {
		got, err := q.ReadCallbacks(ctx, "g1", 10, 5*time.Second, len(items) == 0)
		if err != nil || len(got) == 0 {
			t.Fatalf("ReadCallbacks = %+v, %v after %d items; want the two with a callback_url", got, err, len(items))
		}
		items = append(items, got...)
	}
	ids := map[string]bool{}
	for _, it := range items {
		if it.ID == "" || (it.Submission.ID != a.ID && it.Submission.ID != c.ID) {
			t.Fatalf("callback item %+v, want %s or %s (not %s, which has no callback_url)", it, a.ID, c.ID, b.ID)
		}
		ids[it.Submission.ID] = true
	}
	if len(ids) != 2 {
		t.Fatalf("callback items %+v, want one per submission", items)
	}
	st := job.CallbackState{Status: job.CallbackDelivered, Attempts: 2, LastError: "503", LastAttemptAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := q.RecordCallback(ctx, a.ID, st); err != nil {
		t.Fatalf("RecordCallback: %v", err)
	}
	if got, err := q.Get(ctx, a.ID); err != nil || got.Callback == nil || *got.Callback != st {
		t.Fatalf("Get after RecordCallback = %+v, %v; want callback %+v", got.Callback, err, st)
	}
	if err := q.RecordCallback(ctx, job.NewID(time.Now()), st); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("RecordCallback(unknown) = %v, want ErrNotFound", err)
	}
	if err := q.AckCallbacks(ctx, items[0].ID, items[1].ID); err != nil {
		t.Fatalf("AckCallbacks: %v", err)
	}
	if rest, err := q.ReadCallbacks(ctx, "g2", 10, 300*time.Millisecond, false); err != nil || len(rest) != 0 {
		t.Fatalf("ReadCallbacks after acking everything = %+v, %v; want nothing", rest, err)
	}
}
