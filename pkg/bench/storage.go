package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/pgstore"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/redisq"
	"github.com/execbox/app/pkg/store/record"
	"github.com/execbox/app/roles/storage"
)

// StorageOptions configures the storage benchmark.
type StorageOptions struct {
	// DatabaseURL is a PostgreSQL server the benchmark may create scratch
	// databases on (each mode gets a fresh one, dropped afterwards).
	DatabaseURL string
	// Results is how many results the storage consumer writes (default 20000).
	Results int
	// SingleRows is how many results the single-row baseline writes
	// (default min(Results, 3000): it is slow).
	SingleRows int
	// BatchSize is the consumer's batch size (default 500, the role's default).
	BatchSize int
	// Writers is the consumer's concurrent batch writers (default 2, the role's default).
	Writers int
	// RedisURL, when set, adds a mode where the consumer reads RedisResults
	// results from the queue's real results stream in Redis (filled through
	// the queue beforehand, under a scratch key prefix, deleted afterwards).
	RedisURL     string
	RedisResults int
	Log          *slog.Logger
}

// StorageRate is one measured mode.
type StorageRate struct {
	Name    string
	Results int
	Elapsed time.Duration
	PerSec  float64
	// Ratio is PerSec over the single-row INSERT baseline.
	Ratio float64
}

// Storage measures how many results per second one storage consumer (the
// real role: batched multi-row INSERT ... ON CONFLICT DO NOTHING, ack after
// commit) writes to PostgreSQL from an in-memory feed, against two baselines
// in the same run on the same rows: one INSERT per result (what an unbatched
// consumer does) and pgx CopyFrom into the same table (bulk load, the
// server's ceiling without idempotency).
func Storage(ctx context.Context, opt StorageOptions, out io.Writer) ([]StorageRate, error) {
	if opt.Results <= 0 {
		opt.Results = 20000
	}
	if opt.SingleRows <= 0 {
		opt.SingleRows = min(opt.Results, 3000)
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 500
	}
	if opt.Writers <= 0 {
		opt.Writers = 2
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	subs := benchSubmissions(opt.Results, time.Now())
	modes := []struct {
		name    string
		n       int
		measure func(ctx context.Context, dbURL string, subs []job.Submission) (time.Duration, error)
	}{
		{"single-row INSERT (baseline)", opt.SingleRows, func(ctx context.Context, dbURL string, subs []job.Submission) (time.Duration, error) {
			return timed(ctx, dbURL, subs, singleRows, opt.Log)
		}},
		{"storage consumer, batched", opt.Results, func(ctx context.Context, dbURL string, subs []job.Submission) (time.Duration, error) {
			return consumerRun(ctx, dbURL, subs, opt)
		}},
		{"pgx CopyFrom (bulk ceiling)", opt.Results, func(ctx context.Context, dbURL string, subs []job.Submission) (time.Duration, error) {
			return timed(ctx, dbURL, subs, copyRows, opt.Log)
		}},
	}
	if opt.RedisURL != "" {
		if opt.RedisResults <= 0 {
			opt.RedisResults = min(opt.Results, 5000)
		}
		modes = append(modes, struct {
			name    string
			n       int
			measure func(ctx context.Context, dbURL string, subs []job.Submission) (time.Duration, error)
		}{"storage consumer, Redis stream", opt.RedisResults, func(ctx context.Context, dbURL string, subs []job.Submission) (time.Duration, error) {
			return redisConsumerRun(ctx, dbURL, subs, opt)
		}})
	}
	var rates []StorageRate
	for _, m := range modes {
		dbURL, drop, err := scratchDB(ctx, opt.DatabaseURL)
		if err != nil {
			return nil, err
		}
		elapsed, err := m.measure(ctx, dbURL, subs[:m.n])
		drop()
		if err != nil {
			return nil, fmt.Errorf("bench storage: %s: %w", m.name, err)
		}
		rates = append(rates, StorageRate{Name: m.name, Results: m.n, Elapsed: elapsed,
			PerSec: float64(m.n) / elapsed.Seconds()})
	}
	for i := range rates {
		rates[i].Ratio = rates[i].PerSec / rates[0].PerSec
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tresults\tseconds\tresults/s\tx single-row\t")
	for _, r := range rates {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%.1f\t\n", r.Name, r.Results, r.Elapsed.Seconds(), r.PerSec, r.Ratio)
	}
	if err := tw.Flush(); err != nil {
		return rates, err
	}
	for _, r := range rates[1:] {
		if !strings.HasPrefix(r.Name, "storage consumer") {
			continue
		}
		goal := "met"
		if r.PerSec < 5000 {
			goal = "NOT met"
		}
		fmt.Fprintf(out, "%s: %.0f results/s (goal 5000/s: %s), batch size %d, %d writer(s)\n",
			r.Name, r.PerSec, goal, opt.BatchSize, opt.Writers)
	}
	return rates, nil
}

// benchSubmissions makes n finished submissions shaped like real ones: a
// small source file, stdin, a compile and a run step with some output.
func benchSubmissions(n int, now time.Time) []job.Submission {
	subs := make([]job.Submission, n)
	src := "import sys\nfor line in sys.stdin:\n    print(line.strip()[::-1])\n"
	for i := range subs {
		fin := now.Add(time.Duration(i) * time.Microsecond)
		out := job.NewOutput([]byte("olleh "+strconv.Itoa(i)+"\n"), false)
		subs[i] = job.Submission{
			ID: job.NewID(fin), Status: job.StatusAccepted, Attempts: 1,
			Request: job.Request{Language: "python", Version: "3.11",
				Files: []job.File{{Name: "main.py", Content: src}}, Stdin: "hello " + strconv.Itoa(i) + "\n",
				Limits:   job.Limits{CPUTimeMs: 2000, WallTimeMs: 5000, MemoryKB: 131072},
				Metadata: map[string]string{"bench": "storage"}, APIKeyID: "key-" + strconv.Itoa(i%10)},
			Result: &job.Result{Status: job.StatusAccepted, Language: "python", Version: "3.11", Executor: "executor-1",
				Run:       &job.Step{Verdict: job.StatusAccepted, Stdout: out, CPUTimeMs: 11, WallTimeMs: float64(20 + i%30), MemoryKB: 9000},
				StartedAt: fin.Add(-30 * time.Millisecond), FinishedAt: fin},
			CreatedAt: fin.Add(-50 * time.Millisecond), UpdatedAt: fin, FinishedAt: fin,
		}
	}
	return subs
}

// scratchDB creates a fresh database next to base and returns its URL and
// a function that drops it.
func scratchDB(ctx context.Context, base string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("bench storage: --database-url: %w", err)
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("bench storage: %w", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "execbox_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, fmt.Errorf("bench storage: create scratch database: %w", err)
	}
	u.Path = "/" + name
	drop := func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = conn.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(dctx)
	}
	return u.String(), drop, nil
}

// timed migrates a fresh store, then times run.
func timed(ctx context.Context, dbURL string, subs []job.Submission,
	run func(context.Context, string, []job.Submission) error, log *slog.Logger) (time.Duration, error) {
	s, err := pgstore.Open(ctx, dbURL, pgstore.Options{})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	if _, err := pgstore.Migrate(ctx, s.Pool(), log); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := run(ctx, dbURL, subs); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func singleRows(ctx context.Context, dbURL string, subs []job.Submission) error {
	s, err := pgstore.Open(ctx, dbURL, pgstore.Options{MaxConns: 1})
	if err != nil {
		return err
	}
	defer s.Close()
	for i := range subs {
		if err := s.Put(ctx, subs[i:i+1]); err != nil {
			return err
		}
	}
	return nil
}

func copyRows(ctx context.Context, dbURL string, subs []job.Submission) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	cols := []string{"id", "status", "language", "version", "api_key_id", "idempotency_key", "executor",
		"created_at", "started_at", "finished_at", "run_wall_ms", "run_cpu_ms", "memory_kb", "exit_code",
		"files_sha256", "cut", "doc_codec", "doc"}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(subs) {
			return nil, nil
		}
		r, err := record.New(subs[i], record.DefaultLimits)
		i++
		if err != nil {
			return nil, err
		}
		return []any{r.ID, r.Status, r.Language, r.Version, r.APIKeyID, r.IdempotencyKey, r.Executor,
			r.CreatedAt, r.StartedAt, r.FinishedAt, r.RunWallMs, r.RunCPUMs, r.MemoryKB, r.ExitCode,
			r.FilesSHA256, r.Cut, int16(r.Codec), r.Doc}, nil
	})
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"submissions"}, cols, src)
	if err == nil && int(n) != len(subs) {
		err = fmt.Errorf("copied %d of %d rows", n, len(subs))
	}
	return err
}

// consumerRun runs the storage role on a preloaded in-memory feed and times
// from its first read to the last acknowledgement (migration excluded).
func consumerRun(ctx context.Context, dbURL string, subs []job.Submission, opt StorageOptions) (time.Duration, error) {
	feed := &storageFeed{items: subs, done: make(chan struct{})}
	r, err := storage.New(storage.Config{DatabaseURL: dbURL, BatchSize: opt.BatchSize, Writers: opt.Writers, ReadBlock: 100 * time.Millisecond},
		opt.Log, storage.Deps{Feed: feed})
	if err != nil {
		return 0, err
	}
	if err := consume(ctx, r, feed.done); err != nil {
		return 0, err
	}
	feed.mu.Lock()
	defer feed.mu.Unlock()
	return feed.last.Sub(feed.first), nil
}

// consume runs the storage role until done closes (its feed saw the last
// acknowledgement), then stops it.
func consume(ctx context.Context, r *storage.Role, done <-chan struct{}) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	werr := make(chan error, 1)
	go func() { werr <- r.Work(wctx) }()
	select {
	case <-done:
	case err := <-werr:
		return fmt.Errorf("storage stopped: %v", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	cancel()
	<-werr
	return nil
}

// storageFeed is a preloaded queue.ResultFeed.
type storageFeed struct {
	mu          sync.Mutex
	items       []job.Submission
	next, acked int
	first, last time.Time
	done        chan struct{}
}

func (f *storageFeed) Read(ctx context.Context, _ string, max int, block time.Duration) ([]queue.FeedItem, error) {
	f.mu.Lock()
	if f.first.IsZero() {
		f.first = time.Now()
	}
	n := min(max, len(f.items)-f.next)
	out := make([]queue.FeedItem, n)
	for i := range out {
		out[i] = queue.FeedItem{ID: strconv.Itoa(f.next + i), Submission: f.items[f.next+i]}
	}
	f.next += n
	f.mu.Unlock()
	if n == 0 {
		t := time.NewTimer(block)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	return out, nil
}

func (f *storageFeed) Ack(_ context.Context, ids ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acked += len(ids)
	if f.acked == len(f.items) {
		f.last = time.Now()
		close(f.done)
	}
	return nil
}

// redisConsumerRun puts subs on a scratch results stream through the Redis
// queue (enqueue, lease, complete; not timed), then times the storage role
// draining it into PostgreSQL, from its first read to the last ack.
func redisConsumerRun(ctx context.Context, dbURL string, subs []job.Submission, opt StorageOptions) (time.Duration, error) {
	ropt, err := redis.ParseURL(opt.RedisURL)
	if err != nil {
		return 0, fmt.Errorf("--redis-url: %w", err)
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "execbox-bench-storage-" + hex.EncodeToString(b[:])
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		iter := rdb.Scan(dctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(dctx) {
			rdb.Unlink(dctx, iter.Val())
		}
	}()
	q := redisq.New(rdb, redisq.Options{Prefix: prefix})
	// Close can wait long on redisq's pub/sub listener: do not wait for it.
	defer func() { go q.Close() }()
	if err := fillResults(ctx, q, subs); err != nil {
		return 0, err
	}
	feed := &timedFeed{ResultFeed: q, n: len(subs), done: make(chan struct{})}
	r, err := storage.New(storage.Config{DatabaseURL: dbURL, BatchSize: opt.BatchSize, Writers: opt.Writers,
		ReadBlock: 100 * time.Millisecond, Consumer: "bench"}, opt.Log, storage.Deps{Feed: feed})
	if err != nil {
		return 0, err
	}
	if err := consume(ctx, r, feed.done); err != nil {
		return 0, err
	}
	feed.mu.Lock()
	defer feed.mu.Unlock()
	return feed.last.Sub(feed.first), nil
}

// fillResults runs each submission's request through q with 8 workers.
func fillResults(ctx context.Context, q *redisq.Queue, subs []job.Submission) error {
	work := make(chan job.Submission)
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range work {
				if _, err := q.Enqueue(ctx, s.Request); err != nil {
					errc <- err
					return
				}
				l, err := q.Lease(ctx, "bench", time.Second)
				if err != nil || l == nil {
					errc <- fmt.Errorf("lease: %v", err)
					return
				}
				if err := q.Complete(ctx, l, *s.Result); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for _, s := range subs {
		select {
		case work <- s:
		case err = <-errc:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	if err != nil {
		return fmt.Errorf("fill the results stream: %w", err)
	}
	return nil
}

// timedFeed wraps a feed, noting the first read and the ack of the n-th item.
type timedFeed struct {
	queue.ResultFeed
	mu          sync.Mutex
	n, acked    int
	first, last time.Time
	done        chan struct{}
}

func (f *timedFeed) Read(ctx context.Context, consumer string, max int, block time.Duration) ([]queue.FeedItem, error) {
	f.mu.Lock()
	if f.first.IsZero() {
		f.first = time.Now()
	}
	f.mu.Unlock()
	return f.ResultFeed.Read(ctx, consumer, max, block)
}

func (f *timedFeed) Ack(ctx context.Context, ids ...string) error {
	if err := f.ResultFeed.Ack(ctx, ids...); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acked += len(ids)
	if f.acked >= f.n && f.last.IsZero() {
		f.last = time.Now()
		close(f.done)
	}
	return nil
}
