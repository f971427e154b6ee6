// Package gatewaytest is what the gateway's tests share: the gateway over
// the real in-process queue (pkg/memq, wrapped to record what was enqueued
// and to drive jobs as a worker would), a small in-memory store, and HTTP
// helpers.
package gatewaytest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/memq"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/roles/gateway"
)

// Queue is pkg/memq with a test's view: it records each new submission,
// counts watches, and can be made full or forget a submission (as the
// queue does once storage has it), failures memq only produces over time.
// Start, Complete and Finish move a job as a worker would, by leasing it.
type Queue struct {
	*memq.Queue
	t *testing.T

	mu        sync.Mutex
	full      bool
	enqueued  []job.Request
	ids       []string
	seen      map[string]bool
	watches   map[string]int
	forgotten map[string]bool
	leases    map[string]*queue.Lease
	onEnqueue func(id string)
}

// NewQueue returns an empty queue.
func NewQueue(t *testing.T) *Queue {
	t.Helper()
	mq, err := memq.New(t.Context(), memq.Options{Log: Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return &Queue{Queue: mq, t: t, seen: map[string]bool{}, watches: map[string]int{},
		forgotten: map[string]bool{}, leases: map[string]*queue.Lease{}}
}

// Enqueue implements queue.Queue, answering queue.ErrFull while full.
func (q *Queue) Enqueue(ctx context.Context, req job.Request) (job.Submission, error) {
	q.mu.Lock()
	full := q.full
	q.mu.Unlock()
	if full {
		return job.Submission{}, queue.ErrFull
	}
	s, err := q.Queue.Enqueue(ctx, req)
	if err != nil {
		return s, err
	}
	q.mu.Lock()
	isNew := !q.seen[s.ID]
	if isNew {
		q.seen[s.ID] = true
		q.enqueued = append(q.enqueued, s.Request)
		q.ids = append(q.ids, s.ID)
	}
	hook := q.onEnqueue
	q.mu.Unlock()
	if isNew && hook != nil {
		go hook(s.ID)
	}
	return s, nil
}

// Get implements queue.Queue.
func (q *Queue) Get(ctx context.Context, id string) (job.Submission, error) {
	if q.isForgotten(id) {
		return job.Submission{}, queue.ErrNotFound
	}
	return q.Queue.Get(ctx, id)
}

// Watch implements queue.Queue, counting the watches of each id.
func (q *Queue) Watch(ctx context.Context, id string) (<-chan job.Submission, error) {
	if q.isForgotten(id) {
		return nil, queue.ErrNotFound
	}
	q.mu.Lock()
	q.watches[id]++
	q.mu.Unlock()
	return q.Queue.Watch(ctx, id)
}

// Cancel implements queue.Queue.
func (q *Queue) Cancel(ctx context.Context, id string) (job.Submission, error) {
	if q.isForgotten(id) {
		return job.Submission{}, queue.ErrNotFound
	}
	return q.Queue.Cancel(ctx, id)
}

func (q *Queue) isForgotten(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.forgotten[id]
}

// SetFull makes Enqueue answer queue.ErrFull (or not).
func (q *Queue) SetFull(full bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.full = full
}

// OnEnqueue runs hook (in its own goroutine) after each new submission.
func (q *Queue) OnEnqueue(hook func(id string)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.onEnqueue = hook
}

// Forget drops a submission, as the queue does once storage has it.
func (q *Queue) Forget(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.forgotten[id] = true
}

// Count is the number of submissions enqueued (idempotent repeats aside).
func (q *Queue) Count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.enqueued)
}

// Last is the request of the latest new submission.
func (q *Queue) Last() job.Request {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.enqueued[len(q.enqueued)-1]
}

// IDs lists the submissions enqueued, oldest first.
func (q *Queue) IDs() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.ids...)
}

// Watching is how many watches of id were opened.
func (q *Queue) Watching(id string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.watches[id]
}

// Start leases id, as a worker does: its status becomes running. Jobs
// queued ahead of it are leased and released on the way.
func (q *Queue) Start(id string) {
	q.t.Helper()
	q.lease(id)
}

func (q *Queue) lease(id string) *queue.Lease {
	q.t.Helper()
	q.mu.Lock()
	l := q.leases[id]
	q.mu.Unlock()
	if l != nil {
		return l
	}
	ctx := context.Background()
	var others []*queue.Lease
	defer func() {
		for _, o := range others {
			_ = q.Queue.Release(ctx, o)
		}
	}()
	for {
		l, err := q.Queue.Lease(ctx, "gatewaytest", 0)
		if err != nil || l == nil {
			q.t.Errorf("lease %s: not queued (%v)", id, err)
			return nil
		}
		if l.Job.ID == id {
			q.mu.Lock()
			q.leases[id] = l
			q.mu.Unlock()
			return l
		}
		others = append(others, l)
	}
}

// CompleteWith finishes id with res (leasing it first if need be).
func (q *Queue) CompleteWith(id string, res job.Result) {
	q.t.Helper()
	l := q.lease(id)
	if l == nil {
		return
	}
	if err := q.Queue.Complete(context.Background(), l, res); err != nil {
		q.t.Errorf("complete %s: %v", id, err)
	}
}

// Finish completes a submission with a run that printed stdout.
func (q *Queue) Finish(id string, st job.Status, stdout string) {
	q.t.Helper()
	run := &job.Step{Verdict: st, Stdout: job.NewOutput([]byte(stdout), false), CPUTimeMs: 12, WallTimeMs: 30, MemoryKB: 2048}
	q.CompleteWith(id, job.Result{Status: st, Run: run, Language: "python"})
}

// Store is an in-memory store.Store that records List filters.
type Store struct {
	mu      sync.Mutex
	subs    map[string]job.Submission
	filters []store.Filter
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{subs: map[string]job.Submission{}} }

// Put implements store.Store.
func (s *Store) Put(_ context.Context, subs []job.Submission) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range subs {
		s.subs[x.ID] = x
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(_ context.Context, id string) (job.Submission, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.subs[id]
	if !ok {
		return x, store.ErrNotFound
	}
	return x, nil
}

// List pages newest first by id; the cursor is the last id of the page.
func (s *Store) List(_ context.Context, f store.Filter) (store.Page, error) {
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

// Filters lists the filters List was called with.
func (s *Store) Filters() []store.Filter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.Filter(nil), s.filters...)
}

// Stats implements store.Store.
func (s *Store) Stats(context.Context, time.Time) (store.Stats, error) { return store.Stats{}, nil }

// DeleteBefore implements store.Store.
func (s *Store) DeleteBefore(context.Context, time.Time, int) (int, error) { return 0, nil }

// Bundle is what Setup returns.
type Bundle struct {
	Role *gateway.Role
	Q    *Queue
	St   *Store
	Srv  *httptest.Server
	// Stop stops serving and ends the role's Work (as a gateway shutting
	// down); the test's cleanup calls it too.
	Stop func()
}

// Logger logs to the test's log.
func Logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Setup builds a gateway over memq and the in-memory store and serves it;
// change adjusts the configuration first (it may replace the store).
func Setup(t *testing.T, change func(*gateway.Config, *gateway.Deps)) *Bundle {
	t.Helper()
	b := &Bundle{Q: NewQueue(t), St: NewStore()}
	cfg := gateway.Config{}
	deps := gateway.Deps{Queue: b.Q, Store: b.St, Catalog: catalog.Default()}
	if change != nil {
		change(&cfg, &deps)
	}
	r, err := gateway.New(cfg, Logger(t), deps)
	if err != nil {
		t.Fatal(err)
	}
	return Serve(t, b, r)
}

// Serve serves r for b and runs its Work until the test ends.
func Serve(t *testing.T, b *Bundle, r *gateway.Role) *Bundle {
	t.Helper()
	b.Role = r
	b.Srv = httptest.NewServer(r.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Work(ctx) }()
	var once sync.Once
	b.Stop = func() {
		once.Do(func() {
			b.Srv.Close()
			cancel()
			<-done
		})
	}
	t.Cleanup(b.Stop)
	return b
}

// Do sends a request; body may be a string or []byte (sent as is) or a
// value (sent as JSON). headers alternate name, value ("" deletes).
func (b *Bundle) Do(t *testing.T, method, path string, body any, headers ...string) *http.Response {
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
	req, err := http.NewRequest(method, b.Srv.URL+path, rd)
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
	resp, err := b.Srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// DecodeBody decodes a JSON response body into v and returns the raw bytes.
func DecodeBody(t *testing.T, resp *http.Response, v any) []byte {
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

// WantStatus fails the test unless resp has status want; it returns the
// body (which stays readable).
func WantStatus(t *testing.T, resp *http.Response, want int) []byte {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, raw)
	}
	return raw
}

// WantStatusResp is WantStatus returning resp.
func WantStatusResp(t *testing.T, resp *http.Response, want int) *http.Response {
	t.Helper()
	WantStatus(t, resp, want)
	return resp
}

// B64 is s in standard base64.
func B64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// Event is one Server-Sent Event (or a comment when Name is ":").
type Event struct {
	Name string
	Data string
}

// ReadEvent reads the next event or comment from an SSE stream.
func ReadEvent(t *testing.T, rd *bufio.Reader) Event {
	t.Helper()
	var ev Event
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v (partial %+v)", err, ev)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.Name != "" {
				return ev
			}
		case strings.HasPrefix(line, ":"):
			return Event{Name: ":", Data: strings.TrimSpace(line[1:])}
		case strings.HasPrefix(line, "event: "):
			ev.Name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			ev.Data = line[len("data: "):]
		}
	}
}

// Hook is a callback receiver on loopback that fails the first failures
// requests with status failWith.
type Hook struct {
	Srv      *httptest.Server
	Requests atomic.Int32
	Got      chan HookRequest
}

// HookRequest is a callback a Hook received.
type HookRequest struct {
	Method string
	Body   []byte
	ID     string // X-Execbox-Submission-Id
}

// NewHook serves a Hook until the test ends.
func NewHook(t *testing.T, failures int32, failWith int) *Hook {
	h := &Hook{Got: make(chan HookRequest, 16)}
	h.Srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := h.Requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		if n <= failures {
			w.WriteHeader(failWith)
			return
		}
		h.Got <- HookRequest{Method: r.Method, Body: body, ID: r.Header.Get("X-Execbox-Submission-Id")}
	}))
	t.Cleanup(h.Srv.Close)
	return h
}

// WaitFor receives from ch, failing the test after 10 s.
func WaitFor[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting")
		panic("unreachable")
	}
}

// SetupCallbacks is Setup with callbacks to loopback allowed, a 1 ms
// backoff and attempts attempts; each callback's outcome is sent on the
// channel.
func SetupCallbacks(t *testing.T, attempts int) (*Bundle, chan string) {
	outcomes := make(chan string, 16)
	b := Setup(t, func(c *gateway.Config, d *gateway.Deps) {
		c.CallbackAllowPrivate = true
		c.CallbackBackoff = time.Millisecond
		c.CallbackAttempts = attempts
		d.CallbackOutcome = func(o string) { outcomes <- o }
	})
	return b, outcomes
}
