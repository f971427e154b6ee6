package storage

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/pgstore"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/pkg/store/storehttp"
	"github.com/execbox/app/pkg/store/storetest"
	"github.com/execbox/app/pkg/testenv"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// pgStore is a migrated pgstore on a fresh database.
func pgStore(t *testing.T) *pgstore.Store {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	s, err := pgstore.Open(ctx, testenv.Postgres(t), pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if _, err := pgstore.Migrate(ctx, s.Pool(), discard); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestClientContract runs the store contract through the HTTP client against
// the role's real handler over PostgreSQL.
func TestClientContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		r, err := New(Config{InternalToken: "secret"}, discard, Deps{Store: pgStore(t)})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(r.Handler())
		t.Cleanup(srv.Close)
		return storehttp.NewClient(srv.URL, srv.Client()).WithToken("secret")
	})
}

func TestAPIRejects(t *testing.T) {
	t.Parallel()
	r, err := New(Config{InternalToken: "secret"}, discard, Deps{Store: pgStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	ctx := testCtx(t, 30*time.Second)
	tests := []struct {
		name   string
		token  string
		path   string
		status int
	}{
		{"no token", "", "/storage/v1/submissions", http.StatusUnauthorized},
		{"wrong token", "nope", "/storage/v1/stats", http.StatusUnauthorized},
		{"bad since", "secret", "/storage/v1/submissions?since=yesterday", http.StatusBadRequest},
		{"bad limit", "secret", "/storage/v1/submissions?limit=-1", http.StatusBadRequest},
		{"bad window", "secret", "/storage/v1/stats?window=forever", http.StatusBadRequest},
		{"bad cursor", "secret", "/storage/v1/submissions?cursor=%21", http.StatusBadRequest},
		// A NUL in the cursor's id reached PostgreSQL, which refuses NUL in
		// text: 503 here, 502 at the gateway.
		{"NUL in cursor", "secret", "/storage/v1/submissions?cursor=" +
			base64.RawURLEncoding.EncodeToString([]byte("1700000000000000.01a21a83-61c7-7d97-be69-b9a88feb754\x00")), http.StatusBadRequest},
		{"unknown id", "secret", "/storage/v1/submissions/" + job.NewID(time.Now()), http.StatusNotFound},
		{"stats window", "secret", "/storage/v1/stats?window=1h", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("GET %s = %d, want %d", tt.path, resp.StatusCode, tt.status)
			}
			if strings.Contains(tt.path, "cursor=") && !strings.Contains(string(body), `"field":"cursor"`) {
				t.Errorf("GET %s: problem %s does not name the field cursor", tt.path, body)
			}
		})
	}
	_, err = storehttp.NewClient(srv.URL, nil).WithToken("secret").Get(ctx, "nope")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("client Get(unknown) = %v, want ErrNotFound", err)
	}
}

// runRole runs r.Work in the background and returns a channel with its result.
func runRole(t *testing.T, r *Role) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Work(ctx) }()
	var once bool
	stop = func() error {
		if once {
			return nil
		}
		once = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("Work did not return 30 s after cancel")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func subs(n int, at time.Time) []job.Submission {
	out := make([]job.Submission, n)
	for i := range out {
		out[i] = storetest.Sub(at.Add(time.Duration(i)*time.Millisecond), job.StatusAccepted, "python", "k", float64(i%50))
	}
	return out
}

// countIDs returns how many of ids are stored, and the table's row count.
func countIDs(t *testing.T, pool *pgxpool.Pool, ids []string) (found, rows int) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM submissions WHERE id = ANY($1)", ids).Scan(&found); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM submissions").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	return found, rows
}

func idsOf(subs []job.Submission) []string {
	ids := make([]string, len(subs))
	for i, s := range subs {
		ids[i] = s.ID
	}
	return ids
}

// TestConsumer: the role drains a feed into PostgreSQL in batches,
// acknowledging each item only once it is committed; replays change nothing.
func TestConsumer(t *testing.T) {
	t.Parallel()
	url := testenv.Postgres(t)
	all := subs(1200, time.Now().Add(-time.Minute))
	feed := newFakeFeed(1200)
	check, err := pgxpool.New(testCtx(t, time.Minute), url)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	feed.onAck = func(items []queue.FeedItem) error {
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.Submission.ID
		}
		var n int
		if err := check.QueryRow(context.Background(), "SELECT count(*) FROM submissions WHERE id = ANY($1)", ids).Scan(&n); err != nil {
			return err
		}
		if n != len(ids) {
			t.Errorf("ack of %d items of which only %d are committed", len(ids), n)
		}
		return nil
	}
	r, err := New(Config{DatabaseURL: url, BatchSize: 200, ReadBlock: 50 * time.Millisecond}, discard, Deps{Feed: feed})
	if err != nil {
		t.Fatal(err)
	}
	feed.Add(all[:700]...)
	stop := runRole(t, r)
	// Replays of already written results, then the rest.
	feed.Add(all[:100]...)
	feed.Add(all[700:]...)
	select {
	case <-feed.drained:
	case <-time.After(60 * time.Second):
		t.Fatalf("feed not drained: %d of 1200 acknowledged", len(feed.ackCounts()))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	found, rows := countIDs(t, check, idsOf(all))
	if found != 1200 || rows != 1200 {
		t.Errorf("stored %d of 1200 (table has %d rows)", found, rows)
	}
	for id, n := range feed.ackCounts() {
		if want := map[bool]int{true: 2, false: 1}[isReplayed(all, id)]; n != want {
			t.Errorf("%s acknowledged %d times, want %d", id, n, want)
		}
	}
	if got := testutilCount(t, r); got < 1300 {
		t.Errorf("results_written = %v, want >= 1300", got)
	}
}

func isReplayed(all []job.Submission, id string) bool {
	for _, s := range all[:100] {
		if s.ID == id {
			return true
		}
	}
	return false
}

// TestConsumerDropsInvalid: a result the store can never take is dropped
// (and acknowledged) instead of blocking the feed; the rest are written.
func TestConsumerDropsInvalid(t *testing.T) {
	t.Parallel()
	pg := pgStore(t)
	good := subs(5, time.Now())
	bad := storetest.Sub(time.Now(), job.StatusAccepted, "python", "", 1)
	bad.ID = ""
	feed := newFakeFeed(6)
	feed.Add(good[0], good[1], bad, good[2], good[3], good[4])
	r, err := New(Config{ReadBlock: 50 * time.Millisecond}, discard, Deps{Feed: feed, Store: pg})
	if err != nil {
		t.Fatal(err)
	}
	stop := runRole(t, r)
	select {
	case <-feed.drained:
	case <-time.After(30 * time.Second):
		t.Fatalf("feed not drained: %v", feed.ackCounts())
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if found, rows := countIDs(t, pg.Pool(), idsOf(good)); found != 5 || rows != 5 {
		t.Errorf("stored %d of 5 good results, %d rows", found, rows)
	}
}

// TestRetentionLoop: the role deletes what is older than the retention.
func TestRetentionLoop(t *testing.T) {
	t.Parallel()
	pg := pgStore(t)
	ctx := testCtx(t, time.Minute)
	old := subs(25, time.Now().Add(-48*time.Hour))
	fresh := subs(5, time.Now())
	if err := pg.Put(ctx, append(old, fresh...)); err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{Retention: 24 * time.Hour, RetentionBatch: 10}, discard, Deps{Store: pg})
	if err != nil {
		t.Fatal(err)
	}
	runRole(t, r)
	for {
		_, rows := countIDs(t, pg.Pool(), nil)
		if rows == 5 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("retention left %d rows, want 5", rows)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if found, _ := countIDs(t, pg.Pool(), idsOf(fresh)); found != 5 {
		t.Errorf("retention deleted fresh results: %d of 5 left", found)
	}
}

func testutilCount(t *testing.T, r *Role) float64 {
	t.Helper()
	return testutil.ToFloat64(r.metrics.written)
}
