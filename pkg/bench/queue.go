package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/memq"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/redisq"
)

// QueueOptions configures the queue benchmark.
type QueueOptions struct {
	// RedisURL is the Redis to measure; the benchmark writes under a fresh
	// key prefix and deletes it afterwards.
	RedisURL string
	// Jobs per phase (default 20000).
	Jobs int
	// Concurrency is the number of producers and of workers (default 64).
	Concurrency int
	Log         *slog.Logger
}

// QueueRate is one implementation's measured throughput, in jobs/s.
type QueueRate struct {
	Name string
	// Enqueue: producers only, into an empty queue.
	Enqueue float64
	// Drain: workers lease and complete the queued jobs at once.
	Drain float64
	// EndToEnd: producers and workers at the same time, enqueue to completion.
	EndToEnd float64
	// LeaseMs and CompleteMs are the mean latencies of one call in the drain.
	LeaseMs, CompleteMs float64
	// PerRedisCPU is end-to-end jobs per second of Redis CPU time (user +
	// sys): what one dedicated Redis core sustains, independent of how
	// much of the machine other processes take. Zero for memq.
	PerRedisCPU float64
}

// QueueReport is the benchmark's result.
type QueueReport struct {
	// PingPerSec is the Redis round-trip baseline (PING) at the same concurrency.
	PingPerSec float64
	// PingPerRedisCPU is PINGs per second of Redis CPU time.
	PingPerRedisCPU float64
	Rates           []QueueRate
}

// Queue measures enqueue, lease and complete throughput of the Redis queue
// (and of the in-process queue for comparison) with in-process workers that
// complete each job at once, against the raw Redis round-trip rate measured
// in the same run. Each phase runs opt.Jobs jobs.
func Queue(ctx context.Context, opt QueueOptions, out io.Writer) (QueueReport, error) {
	if opt.Jobs <= 0 {
		opt.Jobs = 20000
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 64
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	var rep QueueReport
	ropt, err := redis.ParseURL(opt.RedisURL)
	if err != nil {
		return rep, fmt.Errorf("bench queue: redis url: %w", err)
	}
	ropt.PoolSize = 2*opt.Concurrency + 8
	rdb := redis.NewClient(redisq.Lean(ropt)) // as the queue role configures it
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return rep, fmt.Errorf("bench queue: redis: %w", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "execbox-bench-" + hex.EncodeToString(b[:])
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := redisq.DeletePrefix(cctx, rdb, prefix+":"); err != nil {
			opt.Log.Warn("bench queue: cleaning up keys failed", "prefix", prefix, "err", err)
		}
	}()

	fmt.Fprintf(out, "queue benchmark: %d jobs per phase, %d producers / %d workers, Redis %s\n",
		opt.Jobs, opt.Concurrency, opt.Concurrency, ropt.Addr)
	cpu0 := redisCPU(ctx, rdb)
	rep.PingPerSec, err = pingRate(ctx, rdb, opt)
	if err != nil {
		return rep, err
	}
	if c := redisCPU(ctx, rdb) - cpu0; c > 0 {
		rep.PingPerRedisCPU = float64(opt.Jobs*3) / c
	}
	rq := redisq.New(rdb, redisq.Options{Prefix: prefix, Visibility: time.Minute, Log: opt.Log})
	defer rq.Close()
	r, err := measure(ctx, "redisq", rq, opt, func() float64 { return redisCPU(ctx, rdb) })
	if err != nil {
		return rep, err
	}
	rep.Rates = append(rep.Rates, r)
	mq, err := memq.New(ctx, memq.Options{Visibility: time.Minute, MaxFinished: 1000})
	if err != nil {
		return rep, err
	}
	r, err = measure(ctx, "memq", mq, opt, nil)
	if err != nil {
		return rep, err
	}
	rep.Rates = append(rep.Rates, r)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "mode\tenqueue/s\tlease+complete/s\tend-to-end/s\tlease ms\tcomplete ms\te2e/PING\tper Redis CPU-s\t\n")
	fmt.Fprintf(tw, "redis PING (baseline)\t%.0f\t\t\t\t\t1.00\t%.0f\t\n", rep.PingPerSec, rep.PingPerRedisCPU)
	for _, r := range rep.Rates {
		per := "-"
		if r.PerRedisCPU > 0 {
			per = fmt.Sprintf("%.0f", r.PerRedisCPU)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.3f\t%.3f\t%.2f\t%s\t\n", r.Name, r.Enqueue, r.Drain, r.EndToEnd,
			r.LeaseMs, r.CompleteMs, r.EndToEnd/rep.PingPerSec, per)
	}
	_ = tw.Flush()
	verdict := "met"
	if rep.Rates[0].EndToEnd < 5000 {
		verdict = "NOT met"
	}
	fmt.Fprintf(out, "goal: redisq end-to-end >= 5000 jobs/s: %s (%.0f jobs/s; each job is 3 scripts: enqueue, lease, complete)\n",
		verdict, rep.Rates[0].EndToEnd)
	fmt.Fprintf(out, "capacity of one dedicated Redis core: %.0f jobs/s end to end (jobs per Redis CPU-second; load average now %s)\n",
		rep.Rates[0].PerRedisCPU, loadAvg())
	return rep, nil
}

func pingRate(ctx context.Context, rdb *redis.Client, opt QueueOptions) (float64, error) {
	n := int64(opt.Jobs * 3)
	var next atomic.Int64
	start := time.Now()
	err := parallel(opt.Concurrency, func() error {
		for next.Add(1) <= n {
			if err := rdb.Ping(ctx).Err(); err != nil {
				return err
			}
		}
		return nil
	})
	return float64(n) / time.Since(start).Seconds(), err
}

func parallel(n int, fn func() error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func benchReq(i int64) job.Request {
	return job.Request{Language: "bash", Files: []job.File{{Name: "main.sh", Content: fmt.Sprintf("echo %d", i)}}}
}

func benchResult() job.Result {
	return job.Result{Status: job.StatusAccepted, Run: &job.Step{Verdict: job.StatusAccepted, Stdout: job.Output{Text: "ok\n"}}}
}

// redisCPU returns Redis' CPU time so far (used_cpu_user + used_cpu_sys), in seconds.
func redisCPU(ctx context.Context, rdb *redis.Client) float64 {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}

func measure(ctx context.Context, name string, q queue.Queue, opt QueueOptions, cpu func() float64) (QueueRate, error) {
	r := QueueRate{Name: name}
	n := int64(opt.Jobs)
	enqueue := func(next *atomic.Int64) error {
		for i := next.Add(1); i <= n; i = next.Add(1) {
			if _, err := q.Enqueue(ctx, benchReq(i)); err != nil {
				return err
			}
		}
		return nil
	}
	var leaseNs, completeNs atomic.Int64
	work := func(done *atomic.Int64, wait time.Duration) error {
		for done.Load() < n {
			t0 := time.Now()
			l, err := q.Lease(ctx, "bench", wait)
			t1 := time.Now()
			if err != nil {
				return err
			}
			if l == nil {
				if wait == 0 {
					return nil
				}
				continue
			}
			if err := q.Complete(ctx, l, benchResult()); err != nil {
				return err
			}
			leaseNs.Add(int64(t1.Sub(t0)))
			completeNs.Add(int64(time.Since(t1)))
			done.Add(1)
		}
		return nil
	}

	// Phase 1: enqueue into an empty queue.
	var next atomic.Int64
	start := time.Now()
	if err := parallel(opt.Concurrency, func() error { return enqueue(&next) }); err != nil {
		return r, fmt.Errorf("%s enqueue: %w", name, err)
	}
	r.Enqueue = float64(n) / time.Since(start).Seconds()

	// Phase 2: drain with workers that complete each job at once.
	var done atomic.Int64
	start = time.Now()
	if err := parallel(opt.Concurrency, func() error { return work(&done, 0) }); err != nil {
		return r, fmt.Errorf("%s drain: %w", name, err)
	}
	r.Drain = float64(done.Load()) / time.Since(start).Seconds()
	if done.Load() > 0 {
		r.LeaseMs = float64(leaseNs.Load()) / float64(done.Load()) / 1e6
		r.CompleteMs = float64(completeNs.Load()) / float64(done.Load()) / 1e6
	}
	if done.Load() != n {
		return r, fmt.Errorf("%s drain: completed %d of %d jobs", name, done.Load(), n)
	}

	// Phase 3: producers and workers together.
	var next3, done3 atomic.Int64
	var cpu0 float64
	if cpu != nil {
		cpu0 = cpu()
	}
	start = time.Now()
	var wg sync.WaitGroup
	var perr, werr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		perr = parallel(opt.Concurrency, func() error { return enqueue(&next3) })
	}()
	go func() {
		defer wg.Done()
		werr = parallel(opt.Concurrency, func() error { return work(&done3, 50*time.Millisecond) })
	}()
	wg.Wait()
	if err := errors.Join(perr, werr); err != nil {
		return r, fmt.Errorf("%s end-to-end: %w", name, err)
	}
	r.EndToEnd = float64(n) / time.Since(start).Seconds()
	if cpu != nil {
		if c := cpu() - cpu0; c > 0 {
			r.PerRedisCPU = float64(n) / c
		}
	}
	return r, nil
}
