package storage

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/redisq"
	"github.com/execbox/app/pkg/store/storehttp"
	"github.com/execbox/app/pkg/testenv"
)

// produceResults runs n submissions through the Redis queue (enqueue, lease,
// complete), which puts n entries on its results stream. It returns their ids.
func produceResults(t *testing.T, q *redisq.Queue, n int) []string {
	t.Helper()
	ctx := testCtx(t, 2*time.Minute)
	ids := make([]string, 0, n)
	for i := range n {
		sub, err := q.Enqueue(ctx, job.Request{Language: "python", Files: []job.File{{Name: "main.py", Content: "print(" + strconv.Itoa(i) + ")"}},
			Stdin: "line\x00with NUL"})
		if err != nil {
			t.Fatal(err)
		}
		l, err := q.Lease(ctx, "producer", time.Second)
		if err != nil || l == nil {
			t.Fatalf("Lease: %v, %v", l, err)
		}
		now := time.Now()
		res := job.Result{Status: job.StatusAccepted, Language: "python", Executor: "test",
			Run:       &job.Step{Verdict: job.StatusAccepted, Stdout: job.NewOutput([]byte(strconv.Itoa(i)+"\n\x00"), false), WallTimeMs: float64(i % 100)},
			StartedAt: now, FinishedAt: now}
		if err := q.Complete(ctx, l, res); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sub.ID)
	}
	return ids
}

// TestKill9WhileConsuming: storage as a real process is killed with SIGKILL
// while it consumes 1,000 results from the Redis results stream, then
// restarted: every result ends up in PostgreSQL exactly once and the stream
// is drained.
func TestKill9WhileConsuming(t *testing.T) {
	t.Parallel()
	const total = 1000
	dbURL := testenv.Postgres(t)
	redisURL, prefix := testenv.Redis(t)
	bin := testenv.BuildBinary(t)
	ctx := testCtx(t, 3*time.Minute)

	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	q := redisq.New(rdb, redisq.Options{Prefix: prefix})
	// Close can hang on redisq's pub/sub listener (reported): do not wait.
	defer func() { go q.Close() }()
	start := time.Now()
	ids := produceResults(t, q, total)
	t.Logf("%d results on the stream in %v", total, time.Since(start))
	stream := prefix + "results"
	if n := rdb.XLen(ctx, stream).Val(); n != total {
		t.Fatalf("results stream %s holds %d entries, want %d", stream, n, total)
	}

	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	count := func() int {
		var n int
		// Before the first migration the table does not exist: count 0.
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM submissions").Scan(&n); err != nil {
			return 0
		}
		return n
	}

	port := testenv.FreePort(t)
	env := []string{"DATABASE_URL=" + dbURL, "REDIS_URL=" + redisURL, "EXECBOX_REDIS_PREFIX=" + prefix}
	args := []string{"storage", "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--consumer", "storage-1", "--batch-size", "10"}
	p := testenv.StartProc(t, bin, env, args...)
	for count() < 100 {
		select {
		case <-p.Done():
			t.Fatalf("storage exited early:\n%s", p.Stderr())
		case <-ctx.Done():
			t.Fatalf("storage stored %d results before the deadline", count())
		case <-time.After(2 * time.Millisecond):
		}
	}
	p.Kill() // SIGKILL
	atKill, left := count(), rdb.XLen(ctx, stream).Val()
	t.Logf("killed with %d results stored, %d entries left on the stream", atKill, left)
	if atKill >= total || left == 0 {
		t.Fatalf("storage had finished before the kill (%d stored, %d left): the test proves nothing", atKill, left)
	}

	restarted := time.Now()
	p2 := testenv.StartProc(t, bin, env, args...)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	testenv.WaitHTTP(t, url+"/ready", http.StatusOK, 30*time.Second)
	for count() < total || rdb.XLen(ctx, stream).Val() > 0 {
		select {
		case <-p2.Done():
			t.Fatalf("restarted storage exited:\n%s", p2.Stderr())
		case <-ctx.Done():
			t.Fatalf("after restart: %d of %d stored, %d left on the stream", count(), total, rdb.XLen(ctx, stream).Val())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Logf("all stored and acknowledged %v after the restart", time.Since(restarted))
	var found, rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FILTER (WHERE id = ANY($1)), count(*) FROM submissions", ids).Scan(&found, &rows); err != nil {
		t.Fatal(err)
	}
	if found != total || rows != total {
		t.Fatalf("PostgreSQL holds %d of the %d results (%d rows), want each exactly once", found, total, rows)
	}
	// The stored copy is the whole submission, NUL bytes included.
	c := storehttp.NewClient(url, nil)
	sub, err := c.Get(ctx, ids[total-1])
	if err != nil {
		t.Fatal(err)
	}
	if sub.Request.Stdin != "line\x00with NUL" || sub.Result == nil || sub.Result.Run == nil {
		t.Errorf("stored submission = %+v", sub)
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p2.Pid())); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "VmHWM") || strings.HasPrefix(l, "VmRSS") {
				t.Logf("storage after consuming: %s", strings.Join(strings.Fields(l), " "))
			}
		}
	}
	stopAt := time.Now()
	defer func() { t.Logf("stopped %v after SIGTERM", time.Since(stopAt)) }()
	if err := p2.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := p2.Wait(30 * time.Second); err != nil || code != 0 {
		t.Errorf("storage exit after SIGTERM: code %d, %v\n%s", code, err, p2.Stderr())
	}
}

// TestMigrateCommand: two `app storage migrate` processes racing on a fresh
// database both succeed and the schema is applied once.
func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	dbURL := testenv.Postgres(t)
	bin := testenv.BuildBinary(t)
	env := []string{"DATABASE_URL=" + dbURL}
	procs := []*testenv.Proc{
		testenv.StartProc(t, bin, env, "storage", "migrate"),
		testenv.StartProc(t, bin, env, "storage", "migrate"),
	}
	applied := 0
	for _, p := range procs {
		code, err := p.Wait(60 * time.Second)
		if err != nil || code != 0 {
			t.Fatalf("%s: exit %d, %v\n%s", p, code, err, p.Stderr())
		}
		var n int
		if _, err := fmt.Sscanf(p.Stdout(), "applied %d migration", &n); err != nil {
			t.Fatalf("%s printed %q", p, p.Stdout())
		}
		applied += n
	}
	ctx := testCtx(t, 30*time.Second)
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows == 0 || applied != rows {
		t.Errorf("the two migrators applied %d migrations in total, schema_migrations has %d rows; want each once", applied, rows)
	}
}
