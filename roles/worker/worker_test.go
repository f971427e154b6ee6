package worker_test

import (
	"context"
	"errors"
	"log/slog"
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

func TestExecutorErrorsEndAsInternalError(t *testing.T) {
	t.Parallel()
	ex := &fakeExecutor{slots: 1, fn: func(context.Context, job.Job) (job.Result, error) {
		return job.Result{}, errors.New("connection refused")
	}}
	b := setup(t, worker.Config{Concurrency: 1}, memq.Options{}, ex)
	s, _ := b.q.Enqueue(context.Background(), queuetest.Req(job.PriorityNormal, 1))
	got := wait(t, b.q, s.ID)
	if got.Status != job.StatusInternalError || got.Result.Message == "" {
		t.Fatalf("ended %+v, want internal_error with a message", got)
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
