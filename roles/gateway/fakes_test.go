package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/store"
)

// fakeQueue is an in-memory queue.Queue for handler tests: it records what
// was enqueued, and the test drives status changes with set.
type fakeQueue struct {
	mu       sync.Mutex
	subs     map[string]job.Submission
	watchers map[string][]chan job.Submission
	idem     map[string]string
	enqueued []job.Request
	full     bool
	// onEnqueue, when set, runs (in its own goroutine) after each enqueue.
	onEnqueue func(id string)
}

func newFakeQueue() *fakeQueue {
	return &fakeQueue{subs: map[string]job.Submission{}, watchers: map[string][]chan job.Submission{}, idem: map[string]string{}}
}

func (q *fakeQueue) Enqueue(_ context.Context, req job.Request) (job.Submission, error) {
	q.mu.Lock()
	if q.full {
		q.mu.Unlock()
		return job.Submission{}, queue.ErrFull
	}
	if id, ok := q.idem[req.IdempotencyKey]; ok && req.IdempotencyKey != "" {
		s := q.subs[id]
		q.mu.Unlock()
		return s, nil
	}
	s := job.Submission{ID: job.NewID(time.Now()), Status: job.StatusQueued, Request: req, CreatedAt: time.Now().UTC()}
	q.subs[s.ID] = s
	if req.IdempotencyKey != "" {
		q.idem[req.IdempotencyKey] = s.ID
	}
	q.enqueued = append(q.enqueued, req)
	hook := q.onEnqueue
	q.mu.Unlock()
	if hook != nil {
		go hook(s.ID)
	}
	return s, nil
}

func (q *fakeQueue) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.enqueued)
}

func (q *fakeQueue) last() job.Request {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.enqueued[len(q.enqueued)-1]
}

func (q *fakeQueue) Get(_ context.Context, id string) (job.Submission, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s, ok := q.subs[id]
	if !ok {
		return s, queue.ErrNotFound
	}
	return s, nil
}

// set changes a submission's status (and result) and wakes its watchers.
func (q *fakeQueue) set(id string, st job.Status, res *job.Result) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.subs[id]
	s.Status, s.Result, s.UpdatedAt = st, res, time.Now().UTC()
	if st.Final() {
		s.FinishedAt = s.UpdatedAt
	}
	q.subs[id] = s
	for _, ch := range q.watchers[id] {
		ch <- s
		if st.Final() {
			close(ch)
		}
	}
	if st.Final() {
		delete(q.watchers, id)
	}
}

// forget drops a submission, as the queue does once storage has it.
func (q *fakeQueue) forget(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.subs, id)
}

func (q *fakeQueue) watching(id string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.watchers[id])
}

func (q *fakeQueue) Watch(ctx context.Context, id string) (<-chan job.Submission, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s, ok := q.subs[id]
	if !ok {
		return nil, queue.ErrNotFound
	}
	ch := make(chan job.Submission, 16)
	ch <- s
	if s.Status.Final() {
		close(ch)
		return ch, nil
	}
	q.watchers[id] = append(q.watchers[id], ch)
	go func() {
		<-ctx.Done()
		q.mu.Lock()
		defer q.mu.Unlock()
		ws := q.watchers[id]
		for i, c := range ws {
			if c == ch {
				q.watchers[id] = append(ws[:i:i], ws[i+1:]...)
				close(ch)
				return
			}
		}
	}()
	return ch, nil
}

func (q *fakeQueue) Cancel(_ context.Context, id string) (job.Submission, error) {
	q.mu.Lock()
	s, ok := q.subs[id]
	q.mu.Unlock()
	switch {
	case !ok:
		return s, queue.ErrNotFound
	case s.Status.Final():
		return s, queue.ErrFinal
	}
	q.set(id, job.StatusCanceled, &job.Result{Status: job.StatusCanceled})
	return q.Get(context.Background(), id)
}

func (q *fakeQueue) Lease(context.Context, string, time.Duration) (*queue.Lease, error) {
	return nil, nil
}
func (q *fakeQueue) Extend(context.Context, *queue.Lease) error               { return nil }
func (q *fakeQueue) Complete(context.Context, *queue.Lease, job.Result) error { return nil }
func (q *fakeQueue) Release(context.Context, *queue.Lease) error              { return nil }
func (q *fakeQueue) DeadLetters(context.Context) ([]job.Submission, error)    { return nil, nil }
func (q *fakeQueue) Requeue(context.Context, string) error                    { return nil }
func (q *fakeQueue) Stats(context.Context) (queue.Stats, error)               { return queue.Stats{}, nil }

// fakeStore is an in-memory store.Store that records List filters.
type fakeStore struct {
	mu      sync.Mutex
	subs    map[string]job.Submission
	filters []store.Filter
}

func newFakeStore() *fakeStore { return &fakeStore{subs: map[string]job.Submission{}} }

func (s *fakeStore) Put(_ context.Context, subs []job.Submission) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range subs {
		s.subs[x.ID] = x
	}
	return nil
}

func (s *fakeStore) Get(_ context.Context, id string) (job.Submission, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.subs[id]
	if !ok {
		return x, store.ErrNotFound
	}
	return x, nil
}

// List pages newest first by id; the cursor is the last id of the page.
func (s *fakeStore) List(_ context.Context, f store.Filter) (store.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.filters = append(s.filters, f)
	var all []job.Submission
	for _, x := range s.subs {
		if (f.APIKeyID == "" || x.Request.APIKeyID == f.APIKeyID) && (f.Language == "" || x.Request.Language == f.Language) &&
			(f.Status == "" || x.Status == f.Status) && (f.Cursor == "" || x.ID < f.Cursor) {
			all = append(all, x)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	var p store.Page
	if len(all) > f.Limit {
		all = all[:f.Limit]
		p.NextCursor = all[len(all)-1].ID
	}
	p.Items = all
	return p, nil
}

func (s *fakeStore) Stats(context.Context, time.Time) (store.Stats, error)     { return store.Stats{}, nil }
func (s *fakeStore) DeleteBefore(context.Context, time.Time, int) (int, error) { return 0, nil }

// bundle is what setup returns.
type bundle struct {
	role *Role
	q    *fakeQueue
	st   *fakeStore
	srv  *httptest.Server
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// setup builds a gateway over fakes and serves it; change adjusts the
// configuration first.
func setup(t *testing.T, change func(*Config, *Deps)) *bundle {
	t.Helper()
	b := &bundle{q: newFakeQueue(), st: newFakeStore()}
	cfg := Config{}
	deps := Deps{Queue: b.q, Store: b.st, Catalog: catalog.Default()}
	if change != nil {
		change(&cfg, &deps)
	}
	r, err := New(cfg, testLogger(t), deps)
	if err != nil {
		t.Fatal(err)
	}
	b.role = r
	b.srv = httptest.NewServer(r.Handler())
	t.Cleanup(b.srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Work(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return b
}

// do sends a request; body may be a string (sent as is) or a value (sent as
// JSON). headers alternate name, value.
func (b *bundle) do(t *testing.T, method, path string, body any, headers ...string) *http.Response {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		buf, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// decodeBody decodes a JSON response body into v and returns the raw bytes.
func decodeBody(t *testing.T, resp *http.Response, v any) []byte {
	t.Helper()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
	}
	return raw
}

func wantStatus(t *testing.T, resp *http.Response, want int) []byte {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, raw)
	}
	return raw
}

// finish completes a submission with a run that printed stdout.
func finish(q *fakeQueue, id string, st job.Status, stdout string) {
	run := &job.Step{Verdict: st, Stdout: job.NewOutput([]byte(stdout), false), CPUTimeMs: 12, WallTimeMs: 30, MemoryKB: 2048}
	q.set(id, st, &job.Result{Status: st, Run: run, Language: "python"})
}
