package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/memq"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/queue/queuetest"
	"github.com/execbox/app/roles/worker"
)

var discard = slog.New(slog.DiscardHandler)

// fakeExecutor runs jobs through fn and counts calls.
type fakeExecutor struct {
	name    string
	slots   int
	fn      func(ctx context.Context, j job.Job) (job.Result, error)
	calls   atomic.Int64
	busy    atomic.Int64
	cancels chan string // optional: receives each Cancel
}

func (f *fakeExecutor) Execute(ctx context.Context, j job.Job) (job.Result, error) {
	f.calls.Add(1)
	f.busy.Add(1)
	defer f.busy.Add(-1)
	if f.fn != nil {
		return f.fn(ctx, j)
	}
	return job.Result{Status: job.StatusAccepted, Executor: f.name, Run: &job.Step{Stdout: job.Output{Text: j.ID}}}, nil
}

func (f *fakeExecutor) Cancel(_ context.Context, id string) error {
	if f.cancels != nil {
		f.cancels <- id
	}
	return nil
}

func (f *fakeExecutor) Capacity(context.Context) (executor.Capacity, error) {
	return executor.Capacity{Slots: f.slots, Busy: int(f.busy.Load())}, nil
}

type bundle struct {
	q    *memq.Queue
	stop context.CancelFunc
	done chan error
}

func setup(t *testing.T, cfg worker.Config, qopts memq.Options, exs ...executor.Executor) *bundle {
	t.Helper()
	q, err := memq.New(context.Background(), qopts)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LeaseWait == 0 {
		cfg.LeaseWait = time.Second
	}
	w, err := worker.New(cfg, discard, worker.Deps{Queue: q, Executors: exs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &bundle{q: q, stop: cancel, done: make(chan error, 1)}
	go func() { b.done <- w.Work(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-b.done
	})
	return b
}

func wait(t *testing.T, q queue.Queue, id string) job.Submission {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := queue.Wait(ctx, q, id)
	if err != nil {
		t.Fatalf("Wait(%s): %v", id, err)
	}
	return s
}

func TestRunsAndCompletesJobs(t *testing.T) {
	t.Parallel()
	ex := &fakeExecutor{name: "e1", slots: 4}
	b := setup(t, worker.Config{Concurrency: 3}, memq.Options{}, ex)
	ctx := context.Background()
	var ids []string
	for i := range 10 {
		s, err := b.q.Enqueue(ctx, queuetest.Req(job.PriorityNormal, i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	for _, id := range ids {
		s := wait(t, b.q, id)
		if s.Status != job.StatusAccepted || s.Result.Run.Stdout.Text != id || s.Attempts != 1 {
			t.Fatalf("%s ended %+v, want accepted with its own output after one attempt", id, s)
		}
		if s.Result.StartedAt.IsZero() || s.Result.FinishedAt.IsZero() {
			t.Fatalf("%s result lacks started_at/finished_at: %+v", id, s.Result)
		}
	}
	if n := ex.calls.Load(); n != 10 {
		t.Fatalf("executor ran %d jobs, want 10", n)
	}
}

func TestBusyExecutorBacksOffWithoutLosingTheLease(t *testing.T) {
	t.Parallel()
	var tries atomic.Int64
	ex := &fakeExecutor{slots: 1, fn: func(ctx context.Context, j job.Job) (job.Result, error) {
		if tries.Add(1) <= 3 {
			return job.Result{}, &executor.BusyError{RetryAfter: 10 * time.Millisecond}
		}
		return job.Result{Status: job.StatusAccepted}, nil
	}}
	b := setup(t, worker.Config{Concurrency: 1}, memq.Options{}, ex)
	s, err := b.q.Enqueue(context.Background(), queuetest.Req(job.PriorityNormal, 1))
	if err != nil {
		t.Fatal(err)
	}
	got := wait(t, b.q, s.ID)
	if got.Status != job.StatusAccepted || got.Attempts != 1 || tries.Load() != 4 {
		t.Fatalf("ended %s after %d deliveries and %d executor calls; want accepted, 1 delivery, 4 calls", got.Status, got.Attempts, tries.Load())
	}
}

func TestPicksExecutorWithMostFreeCapacity(t *testing.T) {
	t.Parallel()
	full := &fakeExecutor{name: "full", slots: 0}
	free := &fakeExecutor{name: "free", slots: 8}
	b := setup(t, worker.Config{Concurrency: 1}, memq.Options{}, full, free)
	for i := range 3 {
		s, err := b.q.Enqueue(context.Background(), queuetest.Req(job.PriorityNormal, i))
		if err != nil {
			t.Fatal(err)
		}
		if got := wait(t, b.q, s.ID); got.Result.Executor != "free" {
			t.Fatalf("job %d ran on %q, want the executor with free slots", i, got.Result.Executor)
		}
	}
	if full.calls.Load() != 0 {
		t.Fatalf("the full executor got %d jobs", full.calls.Load())
	}
}

// flaky is an executor that can be down: then it refuses every call as a
// dead executor's address does.
type flaky struct {
	fakeExecutor
	down     atomic.Bool
	runsDown atomic.Bool // Execute fails while Capacity still answers
}

var errRefused = errors.New("dial tcp 127.0.0.1:1: connect: connection refused")

func (f *flaky) Execute(ctx context.Context, j job.Job) (job.Result, error) {
	if f.down.Load() || f.runsDown.Load() {
		f.calls.Add(1)
		return job.Result{}, errRefused
	}
	return f.fakeExecutor.Execute(ctx, j)
}

func (f *flaky) Capacity(ctx context.Context) (executor.Capacity, error) {
	if f.down.Load() {
		return executor.Capacity{}, errRefused
	}
	return f.fakeExecutor.Capacity(ctx)
}

var quickRetries = worker.Config{Concurrency: 1, RetryBackoff: 10 * time.Millisecond, RetryMaxBackoff: 50 * time.Millisecond,
	CapacityTTL: 10 * time.Millisecond}

func TestExecutorDownThenBackRunsTheJob(t *testing.T) {
	t.Parallel()
	ex := &flaky{fakeExecutor: fakeExecutor{name: "e1", slots: 2}}
	ex.runsDown.Store(true) // it dies under the jobs: runs fail, probes pass
	b := setup(t, quickRetries, memq.Options{}, ex)
	ctx := context.Background()
	s, err := b.q.Enqueue(ctx, queuetest.Req(job.PriorityNormal, 1))
	if err != nil {
		t.Fatal(err)
	}
	// Let it fail three deliveries, then bring the executor back.
	for {
		got, _ := b.q.Get(ctx, s.ID)
		if len(got.History) >= 3 {
			break
		}
		if got.Status.Final() {
			t.Fatalf("ended %s while its executor was down, want it back in the queue", got.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ex.runsDown.Store(false)
	got := wait(t, b.q, s.ID)
	if got.Status != job.StatusAccepted || got.Result.Run.Stdout.Text != s.ID {
		t.Fatalf("ended %s (%+v), want accepted with its own output", got.Status, got.Result)
	}
	if len(got.History) < 3 || got.Attempts != len(got.History)+1 {
		t.Fatalf("attempts %d, history %+v; want every failed delivery in the history", got.Attempts, got.History)
	}
	for i, a := range got.History {
		if a.Outcome != job.OutcomeUnavailable || a.N != i+1 || a.Error == "" || a.Worker == "" || a.At.IsZero() {
			t.Fatalf("history[%d] = %+v, want executor_unavailable with its delivery, error, worker and time", i, a)
		}
	}
}

func TestNoLeasingWhileNoExecutorIsHealthy(t *testing.T) {
	t.Parallel()
	ex := &flaky{fakeExecutor: fakeExecutor{name: "e1", slots: 2}}
	ex.down.Store(true)
	b := setup(t, quickRetries, memq.Options{}, ex)
	ctx := context.Background()
	s, err := b.q.Enqueue(ctx, queuetest.Req(job.PriorityNormal, 1))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a worker that leased would have tried it by now
	if got, _ := b.q.Get(ctx, s.ID); got.Status != job.StatusQueued || got.Attempts != 0 || ex.calls.Load() != 0 {
		t.Fatalf("with no healthy executor the job is %s after %d deliveries and %d executor calls; want queued, never leased",
			got.Status, got.Attempts, ex.calls.Load())
	}
	ex.down.Store(false)
	if got := wait(t, b.q, s.ID); got.Status != job.StatusAccepted || got.Attempts != 1 {
		t.Fatalf("ended %s after %d deliveries, want accepted after one", got.Status, got.Attempts)
	}
}

func TestEveryExecutorDownPastTheDeadlineDeadLetters(t *testing.T) {
	t.Parallel()
	a := &flaky{fakeExecutor: fakeExecutor{name: "a", slots: 2}}
	c := &flaky{fakeExecutor: fakeExecutor{name: "c", slots: 2}}
	a.runsDown.Store(true)
	c.runsDown.Store(true)
	cfg := quickRetries
	cfg.RetryDeadline = 300 * time.Millisecond
	b := setup(t, cfg, memq.Options{}, a, c)
	ctx := context.Background()
	s, err := b.q.Enqueue(ctx, queuetest.Req(job.PriorityNormal, 1))
	if err != nil {
		t.Fatal(err)
	}
	got := wait(t, b.q, s.ID)
	if got.Status != job.StatusInternalError || !strings.Contains(got.Result.Message, "retry deadline") ||
		!strings.Contains(got.Result.Message, "connection refused") {
		t.Fatalf("ended %s (%+v), want internal_error naming the deadline and the last error", got.Status, got.Result)
	}
	if a.calls.Load() == 0 || c.calls.Load() == 0 {
		t.Fatalf("executor calls %d and %d, want both executors tried", a.calls.Load(), c.calls.Load())
	}
	if n := len(got.History); n < 2 || got.History[n-1].Outcome != job.OutcomeDeadline {
		t.Fatalf("history %+v, want the failed deliveries and the deadline last", got.History)
	}
	dl, err := b.q.DeadLetters(ctx)
	if err != nil || len(dl) != 1 || dl[0].ID != s.ID {
		t.Fatalf("DeadLetters = %+v, %v; want [%s]", dl, err, s.ID)
	}
	// The operator re-queues it once an executor is back: it runs.
	c.runsDown.Store(false)
	if err := b.q.Requeue(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got := wait(t, b.q, s.ID); got.Status != job.StatusAccepted || got.Result.Executor != "c" {
		t.Fatalf("after requeue ended %s on %q, want accepted on c", got.Status, got.Result.Executor)
	}
}

func TestFailuresOnAWorkingExecutorAreBounded(t *testing.T) {
	t.Parallel()
	ex := &fakeExecutor{name: "e1", slots: 1, fn: func(context.Context, job.Job) (job.Result, error) {
		return job.Result{Status: job.StatusInternalError, Executor: "e1", Message: "sandbox failed: agent died"}, nil
	}}
	cfg := quickRetries
	cfg.MaxFailures = 3
	b := setup(t, cfg, memq.Options{}, ex)
	ctx := context.Background()
	s, _ := b.q.Enqueue(ctx, queuetest.Req(job.PriorityNormal, 1))
	got := wait(t, b.q, s.ID)
	if got.Status != job.StatusInternalError || !strings.Contains(got.Result.Message, "3 times") ||
		!strings.Contains(got.Result.Message, "agent died") || ex.calls.Load() != 3 {
		t.Fatalf("ended %s (%q) after %d runs; want internal_error after 3, naming the count and the last failure",
			got.Status, got.Result.Message, ex.calls.Load())
	}
	if len(got.History) != 3 {
		t.Fatalf("history %+v, want three failed attempts", got.History)
	}
	for _, a := range got.History {
		if a.Outcome != job.OutcomeFailed || a.Executor != "e1" {
			t.Fatalf("attempt %+v, want failed on e1", a)
		}
	}
	if dl, _ := b.q.DeadLetters(ctx); len(dl) != 1 {
		t.Fatalf("dead letters %+v, want the job", dl)
	}
}

// blocking returns an executor whose jobs run until their context ends (or
// release is closed), announcing each start on started and each stop by
// context on stopped (if not nil).
func blocking(started chan<- string, release <-chan struct{}, stopped ...chan<- string) *fakeExecutor {
	return &fakeExecutor{slots: 4, fn: func(ctx context.Context, j job.Job) (job.Result, error) {
		started <- j.ID
		select {
		case <-ctx.Done():
			for _, c := range stopped {
				c <- j.ID
			}
			return job.Result{}, ctx.Err()
		case <-release:
			return job.Result{Status: job.StatusAccepted}, nil
		}
	}}
}

func TestCancelStopsTheRunningJob(t *testing.T) {
	t.Parallel()
	started, stopped := make(chan string, 1), make(chan string, 1)
	ex := blocking(started, nil, stopped)
	ex.cancels = make(chan string, 1)
	// A short lease makes the worker heartbeat often, so it learns of the
	// cancel quickly.
	b := setup(t, worker.Config{Concurrency: 1}, memq.Options{Visibility: 600 * time.Millisecond}, ex)
	ctx := context.Background()
	s, _ := b.q.Enqueue(ctx, queuetest.Req(job.PriorityNormal, 1))
	<-started
	if _, err := b.q.Cancel(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	// The worker stops the executor job and asks the executor to cancel it.
	if id := <-stopped; id != s.ID {
		t.Fatalf("stopped %s, want %s", id, s.ID)
	}
	if id := <-ex.cancels; id != s.ID {
		t.Fatalf("executor Cancel(%s), want %s", id, s.ID)
	}
	if got, _ := b.q.Get(ctx, s.ID); got.Status != job.StatusCanceled {
		t.Fatalf("status %s, want canceled", got.Status)
	}
}

func TestShutdownFinishesInFlightJobsWithinGrace(t *testing.T) {
	t.Parallel()
	started := make(chan string, 1)
	release := make(chan struct{})
	b := setup(t, worker.Config{Concurrency: 1, Grace: time.Minute}, memq.Options{}, blocking(started, release))
	s, _ := b.q.Enqueue(context.Background(), queuetest.Req(job.PriorityNormal, 1))
	<-started
	b.stop() // SIGTERM: the Work context ends while the job runs
	close(release)
	if err := <-b.done; err != nil {
		t.Fatalf("Work: %v", err)
	}
	b.done <- nil // for the cleanup
	if got, _ := b.q.Get(context.Background(), s.ID); got.Status != job.StatusAccepted {
		t.Fatalf("in-flight job ended %s, want accepted (completed during the grace period)", got.Status)
	}
}

func TestShutdownReleasesJobsBeyondGrace(t *testing.T) {
	t.Parallel()
	started := make(chan string, 2)
	b := setup(t, worker.Config{Concurrency: 2, Grace: 50 * time.Millisecond}, memq.Options{}, blocking(started, nil))
	ctx := context.Background()
	a, _ := b.q.Enqueue(ctx, queuetest.Req(job.PriorityNormal, 1))
	c, _ := b.q.Enqueue(ctx, queuetest.Req(job.PriorityNormal, 2))
	<-started
	<-started
	b.stop()
	if err := <-b.done; err != nil {
		t.Fatalf("Work: %v", err)
	}
	b.done <- nil
	for _, id := range []string{a.ID, c.ID} {
		if got, _ := b.q.Get(ctx, id); got.Status != job.StatusQueued {
			t.Fatalf("%s is %s after shutdown, want queued (released)", id, got.Status)
		}
	}
	st, _ := b.q.Stats(ctx)
	if st.Leased != 0 || st.Depth[job.PriorityNormal] != 2 {
		t.Fatalf("stats after shutdown %+v, want both jobs back in the queue", st)
	}
}
