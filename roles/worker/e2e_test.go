package worker_test

// End-to-end tests with real processes: the app binary as queue, workers
// and executor, on the test Redis (or a private one) and real Docker.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/queue/queuehttp"
	"github.com/execbox/app/pkg/redisq"
	"github.com/execbox/app/pkg/testenv"
)

const token = "e2e-token"

type cluster struct {
	t        *testing.T
	bin      string
	redisURL string
	prefix   string
	queueURL string
	queue    *testenv.Proc
	execURL  string
	client   *queuehttp.Client
}

func start(t *testing.T, bin string, args ...string) (*testenv.Proc, string) {
	t.Helper()
	port := testenv.FreePort(t)
	args = append(args, "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--internal-token", token)
	p := testenv.StartProc(t, bin, []string{"EXECBOX_LOG_FORMAT=json"}, args...)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	testenv.WaitHTTP(t, url+"/ready", http.StatusOK, 90*time.Second)
	return p, url
}

// newCluster starts a queue on redisURL/prefix and one executor.
func newCluster(t *testing.T, redisURL, prefix string, visibility time.Duration) *cluster {
	t.Helper()
	c := &cluster{t: t, bin: testenv.BuildBinary(t), redisURL: redisURL, prefix: prefix}
	c.queue, c.queueURL = start(t, c.bin, "queue", "--redis-url", redisURL, "--redis-prefix", prefix,
		"--visibility", visibility.String(), "--max-length", "0")
	_, c.execURL = start(t, c.bin, "executor", "--runtimes", testenv.Runtimes(t), "--slots", "4", "--pool-size", "2",
		"--pool-languages", "bash", "--instance", "e2e-"+strings.ReplaceAll(prefix, ":", "-"))
	c.client = queuehttp.NewClient(c.queueURL, nil).WithToken(token)
	return c
}

func (c *cluster) worker(concurrency int) *testenv.Proc {
	c.t.Helper()
	p, _ := start(c.t, c.bin, "worker", "--queue-url", c.queueURL, "--executor-urls", c.execURL,
		"--concurrency", fmt.Sprint(concurrency), "--lease-wait", "2s", "--grace", "10s")
	return p
}

func echoJob(n int) job.Request {
	return job.Request{Language: "bash", Files: []job.File{{Name: "main.sh", Content: fmt.Sprintf("echo %d", n)}},
		Metadata: map[string]string{"n": fmt.Sprint(n)}}
}

// submit enqueues n echo jobs and returns their ids by n.
func (c *cluster) submit(ctx context.Context, n int) []string {
	c.t.Helper()
	ids := make([]string, n)
	for i := range n {
		s, err := c.client.Enqueue(ctx, echoJob(i))
		if err != nil {
			c.t.Fatalf("Enqueue %d: %v", i, err)
		}
		ids[i] = s.ID
	}
	return ids
}

// waitAll waits for every job's final state and checks that each ran its
// own program to completion.
func (c *cluster) waitAll(ctx context.Context, ids []string) []job.Submission {
	c.t.Helper()
	subs := make([]job.Submission, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			s, err := queue.Wait(ctx, c.client, id)
			if err != nil {
				c.t.Errorf("Wait %d (%s): %v (last %s)", i, id, err, s.Status)
			}
			subs[i] = s
		}()
	}
	wg.Wait()
	for i, s := range subs {
		if s.Status != job.StatusAccepted || s.Result == nil || s.Result.Run == nil ||
			s.Result.Run.Stdout.Text != fmt.Sprintf("%d\n", i) {
			c.t.Errorf("job %d ended %s (result %+v), want accepted printing %d", i, s.Status, s.Result, i)
		}
	}
	return subs
}

// feedOnce reads the results stream until it holds n items and checks each
// submission appears exactly once: one final state per job.
func (c *cluster) feedOnce(ctx context.Context, ids []string) {
	c.t.Helper()
	opt, _ := redis.ParseURL(c.redisURL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	feed := redisq.New(rdb, redisq.Options{Prefix: c.prefix})
	defer feed.Close()
	seen := map[string]int{}
	for len(seen) < len(ids) {
		items, err := feed.Read(ctx, "e2e", 100, 2*time.Second)
		if err != nil {
			c.t.Fatalf("feed Read: %v", err)
		}
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			seen[it.Submission.ID]++
			if !it.Submission.Status.Final() {
				c.t.Errorf("feed item %s has status %s", it.Submission.ID, it.Submission.Status)
			}
		}
	}
	// Anything more would arrive now; give a late duplicate a chance to show.
	if more, err := feed.Read(ctx, "e2e", 100, time.Second); err == nil {
		for _, it := range more {
			seen[it.Submission.ID]++
		}
	}
	for i, id := range ids {
		if seen[id] != 1 {
			c.t.Errorf("job %d (%s) has %d final results on the results stream, want exactly 1", i, id, seen[id])
		}
	}
	if len(seen) != len(ids) {
		c.t.Errorf("results stream holds %d submissions, want %d", len(seen), len(ids))
	}
}

// TestCrashOfAWorker: 200 jobs, two workers and an executor; one worker is
// killed with SIGKILL mid-run. Its leased jobs come back after the
// visibility timeout and run again on the other worker; every job ends
// exactly once, accepted.
func TestCrashOfAWorker(t *testing.T) {
	t.Parallel()
	url, prefix := testenv.Redis(t)
	c := newCluster(t, url, prefix, 3*time.Second)
	victim := c.worker(4)
	c.worker(4)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ids := c.submit(ctx, 200)

	// Kill the victim once the run is well under way and jobs are leased.
	for {
		st, err := c.client.Stats(ctx)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		if done := 200 - st.Depth[job.PriorityNormal] - st.Leased; done >= 30 && st.Leased >= 4 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the run did not get going")
		}
		time.Sleep(20 * time.Millisecond)
	}
	victim.Kill()

	subs := c.waitAll(ctx, ids)
	redelivered := 0
	for _, s := range subs {
		if s.Attempts > 1 {
			redelivered++
		}
	}
	if redelivered == 0 {
		t.Error("no job was delivered twice: the killed worker held no lease")
	}
	t.Logf("%d of 200 jobs were redelivered after the kill and ran again to completion", redelivered)
	c.feedOnce(ctx, ids)
	if dl, err := c.client.DeadLetters(ctx); err != nil || len(dl) != 0 {
		t.Errorf("DeadLetters = %d, %v; want none", len(dl), err)
	}
}

// TestRedisRestart: Redis (append-only file, fsync always) is killed and
// started again mid-run. The queue reports the outage on /ready while it
// lasts, every role reconnects by itself, and no accepted job is lost.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedisServer(t)
	c := newCluster(t, rs.URL, "execbox", 5*time.Second)
	c.worker(4)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ids := c.submit(ctx, 60)
	for {
		st, err := c.client.Stats(ctx)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		if st.Depth[job.PriorityNormal] <= 50 && st.Leased > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	rs.Kill()
	testenv.WaitHTTP(t, c.queueURL+"/ready", http.StatusServiceUnavailable, 10*time.Second)
	if _, err := c.client.Enqueue(ctx, echoJob(999)); err == nil {
		t.Error("Enqueue succeeded while Redis was down")
	}
	rs.Start()
	testenv.WaitHTTP(t, c.queueURL+"/ready", http.StatusOK, 30*time.Second)
	// Accepted after the restart, too.
	more, err := c.client.Enqueue(ctx, echoJob(60))
	if err != nil {
		t.Fatalf("Enqueue after the restart: %v", err)
	}
	ids = append(ids, more.ID)
	c.waitAll(ctx, ids)
	c.feedOnce(ctx, ids)
}
