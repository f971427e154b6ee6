// Package worker is the worker role: it leases jobs from the queue, runs
// them on executors and reports the results.
//
// Each of Concurrency loops long-polls the queue for a lease, heartbeats it
// (Extend) while the job runs on the executor with the most free capacity,
// and completes it. A heartbeat answered with canceled or lease-lost stops
// the executor job. On shutdown the loops stop leasing, in-flight jobs get a
// grace period to finish, and the rest are released back to the queue.
//
// Executor failures are the platform's, not the job's. A job no executor
// could run (unreachable, connection reset, 5xx, a sandbox that could not
// start) goes back to the queue with back-off (queue.Retry) and runs when
// capacity returns; only once it is older than RetryDeadline is it
// dead-lettered as internal_error. A job a working executor reported as
// internal_error runs again up to MaxFailures times, then ends with that
// result on the dead-letter list. Every such delivery is in the
// submission's history. While no executor answers its capacity probe the
// loops do not lease at all.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/execbox/app/pkg/backoff"
	"github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/executor/executorhttp"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/queue/queuehttp"
	"github.com/execbox/app/pkg/registry"
	"github.com/execbox/app/pkg/role"
)

// Deps are what app all passes in; nil means HTTP clients built from the
// URLs in Config.
type Deps struct {
	Queue     queue.Queue
	Executors []executor.Executor
	// Live carries the jobs' live output and input (nil: the queue's own
	// when it has them, as the queue role's HTTP client does).
	Live live.Hub
}

// Role is the worker role.
type Role struct {
	cfg     Config
	log     *slog.Logger
	q       queue.Queue
	hub     live.Hub
	pick    *picker
	metrics *metrics
	remote  bool // built its own HTTP clients (adds readiness checks)
	hc      *http.Client
	// reg is the executor registry (nil: static executors only).
	reg      *registry.Registry
	closeReg func()
}

// New builds the role.
func New(cfg Config, log *slog.Logger, deps Deps) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	r := &Role{cfg: cfg, log: log, q: deps.Queue, metrics: newMetrics(), hc: &http.Client{Timeout: 5 * time.Second}}
	if r.q == nil {
		if cfg.QueueURL == "" {
			return nil, errors.New("worker: EXECBOX_QUEUE_URL (--queue-url) is required")
		}
		r.q = queuehttp.NewClient(cfg.QueueURL, nil).WithToken(cfg.InternalToken)
		r.remote = true
	}
	r.hub = deps.Live
	if h, ok := r.q.(live.Hub); ok && r.hub == nil {
		r.hub = h
	}
	exs := deps.Executors
	dial := func(u string) executor.Executor {
		return executorhttp.NewClient(u, nil).WithToken(cfg.InternalToken)
	}
	var urls []string
	if len(exs) == 0 {
		if len(cfg.ExecutorURLs) == 0 && cfg.Registry.URL == "" {
			return nil, errors.New("worker: EXECBOX_EXECUTOR_URLS (--executor-urls) or EXECBOX_REGISTRY_URL (--registry-url) is required")
		}
		for _, u := range cfg.ExecutorURLs {
			exs = append(exs, dial(u))
		}
		urls = cfg.ExecutorURLs
		r.remote = true
	}
	pc := pickerConfig{ttl: cfg.CapacityTTL, log: log, dial: dial}
	if cfg.Registry.URL != "" {
		reg, closeReg, err := cfg.Registry.Open()
		if err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
		r.reg, r.closeReg, pc.list = reg, closeReg, reg.List
	}
	r.pick = newPicker(exs, urls, pc)
	return r, nil
}

// Register adds the role's readiness checks and metrics to srv.
func (r *Role) Register(srv *httpx.Server) {
	if r.cfg.QueueURL != "" && r.remote {
		srv.AddCheck("queue", httpx.HealthCheck(r.hc, r.cfg.QueueURL))
	}
	if r.remote {
		for _, u := range r.cfg.ExecutorURLs {
			srv.AddCheck("executor "+u, httpx.HealthCheck(r.hc, u))
		}
	}
	if r.reg != nil {
		srv.AddCheck("executor registry", func(ctx context.Context) error {
			_, err := r.reg.List(ctx)
			return err
		})
	}
	r.metrics.register(srv.Registry())
}

// Mount adds nothing: the worker serves no API, only health and metrics.
func (r *Role) Mount(*httpx.Server) {}

// errShutdown ends jobs still running when the grace period is over.
var errShutdown = errors.New("worker shutting down")

// Work runs the lease loops until ctx ends, then drains: in-flight jobs get
// cfg.Grace to finish, the rest are released back to the queue.
func (r *Role) Work(ctx context.Context) error {
	if r.closeReg != nil {
		defer r.closeReg()
	}
	drain, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stop(nil)
	var wg sync.WaitGroup
	for i := range r.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(ctx, drain, fmt.Sprintf("%s/%d", r.cfg.Name, i))
		}()
	}
	r.log.Info("worker started", "name", r.cfg.Name, "concurrency", r.cfg.Concurrency, "executors", r.pick.len())
	<-ctx.Done()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(r.cfg.Grace)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
	}
	r.log.Warn("grace period over: stopping and releasing unfinished jobs", "grace", r.cfg.Grace)
	stop(errShutdown)
	<-done
	return nil
}

// loop leases and runs jobs until ctx ends; jobs run under drain. It does
// not lease while no executor is healthy.
func (r *Role) loop(ctx, drain context.Context, name string) {
	bo := backoff.New(100*time.Millisecond, 5*time.Second)
	pause := backoff.New(200*time.Millisecond, 2*time.Second)
	paused := false
	for ctx.Err() == nil {
		if !r.pick.anyHealthy(ctx) {
			if !paused {
				paused = true
				r.metrics.paused.Inc()
				r.log.Warn("no executor is healthy: not leasing until one answers", "worker", name)
			}
			backoff.Sleep(ctx, pause.Next())
			continue
		}
		if paused {
			paused = false
			pause.Reset()
			r.log.Info("an executor is healthy again: leasing", "worker", name)
		}
		l, err := r.q.Lease(ctx, name, r.cfg.LeaseWait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.metrics.leaseErrors.Inc()
			d := bo.Next()
			r.log.Warn("lease failed; retrying", "err", err, "retry_in", d)
			backoff.Sleep(ctx, d)
			continue
		}
		bo.Reset()
		if l == nil {
			continue
		}
		r.run(drain, l, name)
	}
}

// run runs one leased job to its end: completed, canceled, lease lost, or
// released at shutdown.
func (r *Role) run(drain context.Context, l *queue.Lease, worker string) {
	log := r.log.With("id", l.Job.ID, "attempt", l.Job.Attempt)
	r.metrics.inFlight.Inc()
	defer r.metrics.inFlight.Dec()
	start := time.Now()
	execCtx, cancelExec := context.WithCancelCause(drain)
	defer cancelExec(nil)
	hbDone := make(chan struct{})
	hbStop := make(chan struct{})
	go func() {
		defer close(hbDone)
		r.heartbeat(execCtx, l, hbStop, cancelExec, log)
	}()
	lj := r.startLive(execCtx, l.Job, log)
	res, ex, err := r.execute(execCtx, l.Job, lj.io(), log)
	lj.finish()
	close(hbStop)
	<-hbDone
	cause := context.Cause(execCtx)
	switch {
	case errors.Is(cause, queue.ErrCanceled), errors.Is(cause, queue.ErrLeaseLost):
		if ex != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(drain), 5*time.Second)
			_ = ex.Cancel(cctx, l.Job.ID)
			cancel()
		}
		outcome := "canceled"
		if errors.Is(cause, queue.ErrLeaseLost) {
			outcome = "lease_lost"
		}
		r.metrics.jobs.WithLabelValues(outcome).Inc()
		log.Info("job stopped", "reason", cause)
		return
	case errors.Is(cause, errShutdown):
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.q.Release(rctx, l); err != nil {
			log.Warn("release at shutdown failed; the job returns after its lease expires", "err", err)
		}
		r.metrics.jobs.WithLabelValues("released").Inc()
		log.Info("job released at shutdown")
		return
	case err != nil:
		// Not a verdict: no executor could run the job. The platform's
		// failure: back to the queue, unless it waited past the deadline.
		if ex != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(drain), 2*time.Second)
			_ = ex.Cancel(cctx, l.Job.ID) // it may still run where the connection broke
			cancel()
		}
		a := job.Attempt{N: l.Job.Attempt, At: time.Now().UTC(), Outcome: job.OutcomeUnavailable, Worker: worker, Error: err.Error()}
		if !l.CreatedAt.IsZero() && time.Since(l.CreatedAt) >= r.cfg.RetryDeadline {
			a.Outcome = job.OutcomeDeadline
			res := job.Result{Status: job.StatusInternalError, Message: fmt.Sprintf(
				"no executor could run the job within the retry deadline (%s) after %d deliveries; the last error: %v; moved to the dead-letter list",
				r.cfg.RetryDeadline, l.Job.Attempt, err)}
			r.fail(drain, l, a, res, log)
			return
		}
		r.retry(drain, l, a, log)
		return
	case res.Status == job.StatusInternalError:
		// A working executor failed the job: counted, bounded.
		a := job.Attempt{N: l.Job.Attempt, At: time.Now().UTC(), Outcome: job.OutcomeFailed, Worker: worker,
			Executor: res.Executor, Error: res.Message}
		if l.Failures+1 < r.cfg.MaxFailures {
			r.retry(drain, l, a, log)
			return
		}
		res.Message = fmt.Sprintf("the job failed on a working executor %d times; moved to the dead-letter list; the last failure: %s",
			l.Failures+1, res.Message)
		if res.StartedAt.IsZero() {
			res.StartedAt = start.UTC()
		}
		if res.FinishedAt.IsZero() {
			res.FinishedAt = time.Now().UTC()
		}
		r.fail(drain, l, a, res, log)
		return
	}
	if res.StartedAt.IsZero() {
		res.StartedAt = start.UTC()
	}
	if res.FinishedAt.IsZero() {
		res.FinishedAt = time.Now().UTC()
	}
	r.complete(drain, l, res, log)
	r.metrics.duration.Observe(time.Since(start).Seconds())
}

// heartbeat extends the lease every third of its remaining time (at most
// cfg.Heartbeat apart) until stop closes; a canceled or lost lease cancels
// the job. Transient errors (queue unreachable) keep trying: if the lease
// expires meanwhile, the next answer is lease lost.
func (r *Role) heartbeat(ctx context.Context, l *queue.Lease, stop <-chan struct{}, cancel context.CancelCauseFunc, log *slog.Logger) {
	interval := r.cfg.Heartbeat
	if left := time.Until(l.ExpiresAt) / 3; left > 0 && left < interval {
		interval = left
	}
	interval = max(interval, 50*time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ectx, ecancel := context.WithTimeout(ctx, max(interval, time.Second))
		err := r.q.Extend(ectx, l)
		ecancel()
		switch {
		case err == nil:
		case errors.Is(err, queue.ErrCanceled), errors.Is(err, queue.ErrLeaseLost):
			cancel(err)
			return
		default:
			if ctx.Err() == nil {
				r.metrics.heartbeatErrors.Inc()
				log.Warn("heartbeat failed", "err", err)
			}
		}
	}
}

// execute runs j on the executor with the most free capacity; busy
// executors are retried after their Retry-After, possibly another one. An
// executor that fails otherwise is avoided; the job tries each of the
// others once, then the error is returned (the job goes back to the queue).
func (r *Role) execute(ctx context.Context, j job.Job, lio live.IO, log *slog.Logger) (job.Result, executor.Executor, error) {
	bo := backoff.New(200*time.Millisecond, 5*time.Second)
	failures := 0
	for {
		ex, idx := r.pick.pickFor(ctx, j.Request.Language)
		r.pick.started(idx)
		res, err := executeOn(ctx, ex, j, lio)
		r.pick.finished(idx)
		if err == nil {
			return res, ex, nil
		}
		if ctx.Err() != nil {
			return res, ex, ctx.Err()
		}
		var busy *executor.BusyError
		var wait time.Duration
		switch {
		case errors.As(err, &busy):
			wait = min(max(busy.RetryAfter, 50*time.Millisecond), 5*time.Second)
		case errors.Is(err, executor.ErrBusy):
			wait = bo.Next()
		default:
			failures++
			log.Warn("executor failed", "err", err, "failures", failures)
			r.metrics.execErrors.Inc()
			r.pick.failed(idx)
			if failures >= r.pick.len() || !r.pick.anyHealthy(ctx) {
				return job.Result{}, ex, err
			}
			continue
		}
		r.metrics.busy.Inc()
		r.pick.busy(idx, wait)
		log.Debug("executor busy; backing off", "retry_in", wait)
		backoff.Sleep(ctx, wait)
		if ctx.Err() != nil {
			return job.Result{}, ex, ctx.Err()
		}
	}
}

// complete reports the result, retrying while the queue is unreachable.
func (r *Role) complete(ctx context.Context, l *queue.Lease, res job.Result, log *slog.Logger) {
	r.report(ctx, "completed", log, func(ctx context.Context) error { return r.q.Complete(ctx, l, res) })
}

// retry hands the job back to the queue with back-off by delivery count.
func (r *Role) retry(ctx context.Context, l *queue.Lease, a job.Attempt, log *slog.Logger) {
	d := &backoff.Backoff{Min: r.cfg.RetryBackoff, Max: r.cfg.RetryMaxBackoff, Jitter: 0.2}
	after := d.Next()
	for range l.Job.Attempt - 1 {
		after = d.Next()
	}
	log.Warn("job handed back to the queue", "outcome", a.Outcome, "err", a.Error, "retry_in", after)
	r.report(ctx, "retried_"+a.Outcome, log, func(ctx context.Context) error { return r.q.Retry(ctx, l, a, after) })
}

// fail ends the job with res on the dead-letter list.
func (r *Role) fail(ctx context.Context, l *queue.Lease, a job.Attempt, res job.Result, log *slog.Logger) {
	log.Error("job dead-lettered", "outcome", a.Outcome, "message", res.Message)
	r.report(ctx, "dead_lettered", log, func(ctx context.Context) error { return r.q.Fail(ctx, l, a, res) })
}

// report runs one of the lease's final calls (complete, retry, fail),
// retrying while the queue is unreachable; outcome labels the jobs metric.
func (r *Role) report(ctx context.Context, outcome string, log *slog.Logger, call func(context.Context) error) {
	bo := backoff.New(100*time.Millisecond, 3*time.Second)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := call(cctx)
		cancel()
		switch {
		case err == nil:
			r.metrics.jobs.WithLabelValues(outcome).Inc()
			log.Debug("job reported", "outcome", outcome)
			return
		case errors.Is(err, queue.ErrLeaseLost), errors.Is(err, queue.ErrCanceled), errors.Is(err, queue.ErrFinal):
			r.metrics.jobs.WithLabelValues("stale_result").Inc()
			log.Info("result not stored: the job was canceled or another attempt owns it", "err", err)
			return
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			r.metrics.jobs.WithLabelValues("failed").Inc()
			log.Error("could not report to the queue; the job runs again after its lease expires", "outcome", outcome, "err", err)
			return
		}
		d := bo.Next()
		log.Warn("report to the queue failed; retrying", "outcome", outcome, "err", err, "retry_in", d)
		backoff.Sleep(ctx, d)
	}
}

// Run serves health and metrics and runs the lease loops until ctx ends.
func (r *Role) Run(ctx context.Context) error {
	return role.Serve(ctx, r.log, role.Config{Addr: r.cfg.Addr, HTTP: r.cfg.HTTP}, role.Named{Name: "worker", Role: r})
}
