package redisq_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
	"github.com/execbox/app/pkg/live/livetest"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/queue/queuetest"
	"github.com/execbox/app/pkg/redisq"
	"github.com/execbox/app/pkg/testenv"
)

// newQueue returns a queue on the shared test Redis under a per-test prefix.
func newQueue(t *testing.T, o redisq.Options) *redisq.Queue {
	t.Helper()
	url, prefix := testenv.Redis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	o.Prefix = prefix
	q := redisq.New(rdb, o)
	t.Cleanup(func() {
		q.Close()
		rdb.Close()
	})
	return q
}

func TestContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, o queuetest.Options) queue.Queue {
		return newQueue(t, redisq.Options{
			Visibility: o.Visibility, MaxDeliveries: o.MaxDeliveries, MaxLength: o.MaxLength, FeedRedeliver: o.FeedRedeliver,
		})
	})
}

func rdbFor(t *testing.T) (*redis.Client, string) {
	t.Helper()
	url, prefix := testenv.Redis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb, prefix
}

func complete(t *testing.T, ctx context.Context, q *redisq.Queue) job.Submission {
	t.Helper()
	s, err := q.Enqueue(ctx, queuetest.Req(job.PriorityNormal, 1))
	if err != nil {
		t.Fatal(err)
	}
	l, err := q.Lease(ctx, "w", time.Second)
	if err != nil || l == nil {
		t.Fatalf("Lease = %v, %v", l, err)
	}
	if err := q.Complete(ctx, l, job.Result{Status: job.StatusAccepted}); err != nil {
		t.Fatal(err)
	}
	return s
}

// A storage consumer that restarts gets back, at once, what it read and
// never acknowledged (not only after FeedRedeliver).
func TestFeedRereadsOwnPendingAfterRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, prefix := rdbFor(t)
	q1 := redisq.New(rdb, redisq.Options{Prefix: prefix})
	defer q1.Close()
	s := complete(t, ctx, q1)
	items, err := q1.Read(ctx, "storage-1", 10, time.Second)
	if err != nil || len(items) != 1 || items[0].Submission.ID != s.ID {
		t.Fatalf("Read = %+v, %v; want %s", items, err, s.ID)
	}
	q2 := redisq.New(rdb, redisq.Options{Prefix: prefix}) // the restarted process
	defer q2.Close()
	again, err := q2.Read(ctx, "storage-1", 10, 100*time.Millisecond)
	if err != nil || len(again) != 1 || again[0].ID != items[0].ID {
		t.Fatalf("Read after restart = %+v, %v; want the unacknowledged %s", again, err, items[0].ID)
	}
	if err := q2.Ack(ctx, again[0].ID); err != nil {
		t.Fatal(err)
	}
	if rest, err := q2.Read(ctx, "storage-1", 10, 100*time.Millisecond); err != nil || len(rest) != 0 {
		t.Fatalf("Read after Ack = %+v, %v; want nothing", rest, err)
	}
}

// If Redis loses its data (restart without persistence), the queue
// recreates its consumer groups and keeps working.
func TestRecreatesGroupsAfterDataLoss(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, prefix := rdbFor(t)
	q := redisq.New(rdb, redisq.Options{Prefix: prefix})
	defer q.Close()
	complete(t, ctx, q)
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys under %s: %v, %v", prefix, keys, err)
	}
	if err := rdb.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	s := complete(t, ctx, q)
	if got, err := q.Get(ctx, s.ID); err != nil || got.Status != job.StatusAccepted {
		t.Fatalf("Get = %+v, %v; want accepted", got, err)
	}
	if items, err := q.Read(ctx, "c", 10, time.Second); err != nil || len(items) != 1 {
		t.Fatalf("feed Read = %+v, %v; want the one result", items, err)
	}
}

// Close stops the notification listener at once, also right after it
// delivered notifications (a Watch sees the completion through them).
func TestCloseIsPromptAfterNotifications(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, prefix := rdbFor(t)
	q := redisq.New(rdb, redisq.Options{Prefix: prefix})
	s, err := q.Enqueue(ctx, queuetest.Req(job.PriorityNormal, 1))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	updates, err := q.Watch(wctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if first := <-updates; first.Status != job.StatusQueued {
		t.Fatalf("first Watch update = %s, want queued", first.Status)
	}
	l, err := q.Lease(ctx, "w", time.Second)
	if err != nil || l == nil {
		t.Fatalf("Lease = %v, %v", l, err)
	}
	if err := q.Complete(ctx, l, job.Result{Status: job.StatusAccepted}); err != nil {
		t.Fatal(err)
	}
	for u := range updates {
		if u.Status.Final() {
			break
		}
	}
	closed := make(chan struct{})
	go func() {
		q.Close()
		close(closed)
	}()
	// Close takes well under a millisecond; the bound only catches a Close
	// that hangs on the pub/sub read (it is not a speed test: CI machines
	// are loaded).
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10s")
	}
}

// A Read blocked waiting for results returns when its context ends (go-redis
// alone would hold it for the whole block time), and a result that arrives
// afterwards is not lost: the next Read returns it, although FeedRedeliver
// is far away.
func TestReadReturnsWhenCanceled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, prefix := rdbFor(t)
	q := redisq.New(rdb, redisq.Options{Prefix: prefix, FeedRedeliver: time.Hour})
	defer q.Close()
	if items, err := q.Read(ctx, "c", 10, time.Millisecond); err != nil || len(items) != 0 {
		t.Fatalf("first Read = %+v, %v; want nothing", items, err)
	}
	rctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	returned := make(chan error, 1)
	go func() {
		_, err := q.Read(rctx, "c", 10, time.Minute)
		returned <- err
	}()
	select {
	case err := <-returned:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled Read = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second): // the block time is a minute
		t.Fatal("Read did not return after its context was canceled")
	}
	// The abandoned XREADGROUP may still be blocked in Redis and take this
	// result; it must come back anyway.
	s := complete(t, ctx, q)
	deadline := time.Now().Add(10 * time.Second)
	for {
		items, err := q.Read(ctx, "c", 10, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 1 && items[0].Submission.ID == s.ID {
			break
		}
		if len(items) != 0 || time.Now().After(deadline) {
			t.Fatalf("Read = %+v; want only %s", items, s.ID)
		}
	}
}

// A Read whose remaining wait is under a millisecond must not send BLOCK 0
// (which waits forever: go-redis then gave up only after 10 s). Block times
// around 1 ms leave such a remainder after the pending-entries check.
func TestReadShortBlockDoesNotHang(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, prefix := rdbFor(t)
	q := redisq.New(rdb, redisq.Options{Prefix: prefix, FeedRedeliver: time.Hour})
	defer q.Close()
	for us := 100; us <= 2000; us += 100 {
		start := time.Now()
		if _, err := q.Read(ctx, "c", 10, time.Duration(us)*time.Microsecond); err != nil {
			t.Fatalf("Read(block %d µs) = %v after %s", us, err, time.Since(start))
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Read(block %d µs) took %s: a sub-millisecond BLOCK became BLOCK 0", us, d)
		}
	}
}

func TestLiveContract(t *testing.T) {
	livetest.Run(t, func(t *testing.T) live.Hub { return newQueue(t, redisq.Options{}) })
}
