package storage

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/lifecycle"
	"github.com/execbox/app/pkg/testenv"
)

// pgOutage is how long the test keeps PostgreSQL down (the issue asks for 30 s).
const pgOutage = 30 * time.Second

func readyStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/ready")
	if err != nil {
		t.Fatalf("GET /ready: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitReady polls /ready until it answers want.
func waitReady(t *testing.T, url string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := readyStatus(t, url)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ready = %d after %v, want %d", got, timeout, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitAcked(t *testing.T, feed *fakeFeed, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(feed.ackCounts()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d results acknowledged after %v", len(feed.ackCounts()), n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPostgresOutage: PostgreSQL (a private cluster) stops for pgOutage while
// results keep arriving. Storage keeps running, retries with backoff, reports
// 503 on /ready meanwhile, and after PostgreSQL is back every result is
// stored exactly once.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgresServer(t)
	feed := newFakeFeed(900)
	r, err := New(Config{DatabaseURL: pg.URL, ReadBlock: 100 * time.Millisecond}, discard, Deps{Feed: feed})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpx.NewServer(httpx.Config{Addr: "127.0.0.1:0", CheckTimeout: time.Second}, discard)
	r.Register(srv)
	r.Mount(srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- lifecycle.Run(ctx, discard,
			lifecycle.Named{Name: "storage", Service: lifecycle.Func(r.Work)},
			lifecycle.Named{Name: "http", Service: srv})
	}()
	addr, err := srv.Addr(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr
	all := subs(900, time.Now())

	feed.Add(all[:300]...)
	waitAcked(t, feed, 300, 30*time.Second)
	waitReady(t, url, http.StatusOK, 10*time.Second)

	pg.Stop()
	feed.Add(all[300:600]...)
	waitReady(t, url, http.StatusServiceUnavailable, 10*time.Second)
	errsBefore := testutil.ToFloat64(r.metrics.writeErrors)
	outageEnd := time.Now().Add(pgOutage)
	for time.Now().Before(outageEnd) {
		if got := readyStatus(t, url); got != http.StatusServiceUnavailable {
			t.Errorf("/ready = %d while PostgreSQL is down, want 503", got)
		}
		select {
		case err := <-done:
			t.Fatalf("storage stopped during the outage: %v", err)
		case <-time.After(time.Second):
		}
	}
	if n := len(feed.ackCounts()); n != 300 {
		t.Errorf("%d results acknowledged while PostgreSQL was down, want 300 (ack only after commit)", n)
	}
	// Exponential backoff capped at 5 s: a handful of attempts in 30 s, not
	// the thousands a tight loop against a refused connection would make.
	if attempts := testutil.ToFloat64(r.metrics.writeErrors) - errsBefore; attempts < 3 || attempts > 40 {
		t.Errorf("%v failed write attempts during a %v outage; want a backed-off few", attempts, pgOutage)
	}

	pg.Start()
	feed.Add(all[600:]...)
	waitAcked(t, feed, 900, 60*time.Second)
	waitReady(t, url, http.StatusOK, 15*time.Second)

	s := r.Store()
	for _, sub := range all {
		if _, err := s.Get(testCtx(t, 10*time.Second), sub.ID); err != nil {
			t.Fatalf("result %s lost: %v", sub.ID, err)
		}
	}
	st, err := s.Stats(testCtx(t, 10*time.Second), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 900 {
		t.Errorf("stored %d results, want exactly 900", st.Total)
	}
	for id, n := range feed.ackCounts() {
		if n != 1 {
			t.Errorf("%s acknowledged %d times", id, n)
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("storage stopped with %v", err)
	}
}

// TestStartsWhilePostgresDown: storage started before PostgreSQL keeps
// retrying the migration, is not ready meanwhile, and catches up once the
// database is there.
func TestStartsWhilePostgresDown(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgresServer(t)
	pg.Stop()
	feed := newFakeFeed(50)
	feed.Add(subs(50, time.Now())...)
	r, err := New(Config{DatabaseURL: pg.URL, ReadBlock: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}, discard, Deps{Feed: feed})
	if err != nil {
		t.Fatal(err)
	}
	stop := runRole(t, r)
	ctx := testCtx(t, time.Minute)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if err := r.databaseReady(ctx); err == nil {
			t.Fatal("ready while PostgreSQL is down")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(feed.ackCounts()); n != 0 {
		t.Fatalf("%d results acknowledged with PostgreSQL down", n)
	}
	pg.Start()
	waitAcked(t, feed, 50, 30*time.Second)
	for r.databaseReady(ctx) != nil {
		select {
		case <-ctx.Done():
			t.Fatalf("not ready after PostgreSQL came up: %v", r.databaseReady(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
