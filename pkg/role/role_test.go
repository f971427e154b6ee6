package role

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/execbox/app/pkg/httpx"
)

// recorder is a role that records its calls in a shared log.
type recorder struct {
	name   string
	log    *events
	fail   error // Work returns it at once when set
	srv    chan *httpx.Server
	mounts bool
}

type events struct {
	mu sync.Mutex
	l  []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.l = append(e.l, s)
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.l...)
}

func (r *recorder) Register(srv *httpx.Server) {
	srv.AddCheck(r.name, func(context.Context) error { return nil })
	if r.srv != nil {
		r.srv <- srv
	}
}

func (r *recorder) Mount(srv *httpx.Server) {
	r.mounts = true
	srv.HandleFunc("/"+r.name, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
}

func (r *recorder) Work(ctx context.Context) error {
	r.log.add("start " + r.name)
	if r.fail != nil {
		return r.fail
	}
	<-ctx.Done()
	r.log.add("stop " + r.name)
	return nil
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestServeStartsInOrderStopsInReverseAndMounts(t *testing.T) {
	t.Parallel()
	ev := &events{}
	srvs := make(chan *httpx.Server, 1)
	a := &recorder{name: "a", log: ev, srv: srvs}
	b := &recorder{name: "b", log: ev}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, discard, Config{Addr: "127.0.0.1:0", Settle: -1},
			Named{Name: "a", Role: a}, Named{Name: "b", Role: Unmounted(b)})
	}()
	srv := <-srvs
	addr, err := srv.Addr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/a": http.StatusTeapot, "/b": http.StatusNotFound} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v, want nil after the context ended", err)
	}
	if b.mounts {
		t.Error("an Unmounted role's routes were mounted")
	}
	got := ev.all()
	// Each Work starts in its own goroutine, so the starts may interleave;
	// the stops are in reverse order, each after the later ones returned.
	if len(got) != 4 || got[2] != "stop b" || got[3] != "stop a" {
		t.Fatalf("events = %v, want both starts, then stop b, stop a", got)
	}
}

func TestServeStopsAllWhenOneFails(t *testing.T) {
	t.Parallel()
	ev := &events{}
	boom := errors.New("boom")
	err := Serve(context.Background(), discard, Config{Addr: "127.0.0.1:0", Settle: -1},
		Named{Name: "a", Role: &recorder{name: "a", log: ev}},
		Named{Name: "b", Role: &recorder{name: "b", log: ev, fail: boom}})
	if !errors.Is(err, boom) {
		t.Fatalf("Serve = %v, want b's failure", err)
	}
	found := false
	for _, e := range ev.all() {
		found = found || e == "stop a"
	}
	if !found {
		t.Fatalf("a was not stopped after b failed: %v", ev.all())
	}
}

// TestServeAppliesHTTPLimits: the limits a role is configured with (the
// --http-* flags) reach its server: with one connection allowed, a second
// is answered 503 while the first is open.
func TestServeAppliesHTTPLimits(t *testing.T) {
	t.Parallel()
	srvs := make(chan *httpx.Server, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, discard, Config{Addr: "127.0.0.1:0", Settle: -1, HTTP: httpx.Limits{MaxConns: 1}},
			Named{Name: "a", Role: &recorder{name: "a", log: &events{}, srv: srvs}})
	}()
	addr, err := (<-srvs).Addr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_, _ = io.WriteString(held, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(held), nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("first connection: %v %v", resp, err)
	}
	resp, err := http.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second connection: %s, want 503 (MaxConns 1)", resp.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
