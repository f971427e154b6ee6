package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
)

// hook is a callback receiver on loopback that fails the first failures
// requests with status failWith.
type hook struct {
	srv      *httptest.Server
	requests atomic.Int32
	got      chan hookRequest
}

type hookRequest struct {
	method string
	body   []byte
	id     string
}

func newHook(t *testing.T, failures int32, failWith int) *hook {
	h := &hook{got: make(chan hookRequest, 16)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := h.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		if n <= failures {
			w.WriteHeader(failWith)
			return
		}
		h.got <- hookRequest{method: r.Method, body: body, id: r.Header.Get("X-Execbox-Submission-Id")}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func waitFor[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting")
		panic("unreachable")
	}
}

func callbackSetup(t *testing.T, attempts int) (*bundle, chan string) {
	outcomes := make(chan string, 16)
	b := setup(t, func(c *Config, _ *Deps) {
		c.CallbackAllowPrivate = true
		c.CallbackBackoff = time.Millisecond
		c.CallbackAttempts = attempts
	})
	b.role.cb.outcome = func(o string) { outcomes <- o }
	return b, outcomes
}

func TestCallbackDeliveredWithRetries(t *testing.T) {
	t.Parallel()
	b, outcomes := callbackSetup(t, 4)
	h := newHook(t, 2, http.StatusServiceUnavailable)
	var c SubmissionCreated
	decodeBody(t, wantStatusResp(t, b.do(t, "POST", "/v1/submissions", map[string]any{
		"language": "python", "source": "print(1)", "callback_url": h.srv.URL + "/hook"}), 201), &c)
	b.q.set(c.ID, job.StatusRunning, nil)
	finish(b.q, c.ID, job.StatusAccepted, "1\n")
	got := waitFor(t, h.got)
	if o := waitFor(t, outcomes); o != "delivered" {
		t.Fatalf("outcome %s", o)
	}
	if got.method != http.MethodPost || got.id != c.ID || h.requests.Load() != 3 {
		t.Fatalf("%s after %d requests, id %s", got.method, h.requests.Load(), got.id)
	}
	var s Submission
	if err := json.Unmarshal(got.body, &s); err != nil {
		t.Fatal(err)
	}
	if s.ID != c.ID || s.Status != job.StatusAccepted || s.Result.Run.Stdout.Text != "1\n" {
		t.Fatalf("callback body %s", got.body)
	}
}

func TestCallbackJudge0IsPutInJudge0Shape(t *testing.T) {
	t.Parallel()
	b, outcomes := callbackSetup(t, 2)
	h := newHook(t, 0, 0)
	var tok Judge0Token
	decodeBody(t, wantStatusResp(t, b.do(t, "POST", "/submissions?base64_encoded=true", map[string]any{
		"source_code": b64("print(1)"), "language_id": 71, "callback_url": h.srv.URL}), 201), &tok)
	finish(b.q, tok.Token, job.StatusAccepted, "1\n")
	got := waitFor(t, h.got)
	waitFor(t, outcomes)
	var body map[string]any
	_ = json.Unmarshal(got.body, &body)
	if got.method != http.MethodPut || body["token"] != tok.Token || body["stdout"] != base64.StdEncoding.EncodeToString([]byte("1\n")) {
		t.Fatalf("%s %s", got.method, got.body)
	}
}

func TestCallbackGivesUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		status   int
		attempts int32
	}{
		{"retries are bounded", http.StatusInternalServerError, 3},
		{"client errors are not retried", http.StatusBadRequest, 1},
		{"redirects are not followed", http.StatusFound, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, outcomes := callbackSetup(t, 3)
			h := newHook(t, 100, tc.status)
			var c SubmissionCreated
			decodeBody(t, b.do(t, "POST", "/v1/submissions", map[string]any{
				"language": "python", "source": "1", "callback_url": h.srv.URL}), &c)
			finish(b.q, c.ID, job.StatusAccepted, "")
			if o := waitFor(t, outcomes); o != "failed" {
				t.Fatalf("outcome %s", o)
			}
			if n := h.requests.Load(); n != tc.attempts {
				t.Fatalf("%d requests, want %d", n, tc.attempts)
			}
		})
	}
}

func TestCallbackDialRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	// The submit-time check is bypassed here (as DNS rebinding would): the
	// dialer itself must refuse loopback.
	cfg := Config{}.withDefaults()
	cb := newCallbacks(cfg, testLogger(t), nil, nil, nil)
	h := newHook(t, 0, 0)
	err := cb.post(context.Background(), http.MethodPost, h.srv.URL, "x", []byte("{}"))
	var perm *permanentError
	if !errors.Is(err, errRefused) || !errors.As(err, &perm) {
		t.Fatalf("post to loopback: %v", err)
	}
	if h.requests.Load() != 0 {
		t.Fatal("the refused callback reached the server")
	}
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ips, ok := f[host]; ok {
		return ips, nil
	}
	return nil, errors.New("no such host")
}

func TestGuard(t *testing.T) {
	t.Parallel()
	g := &ipGuard{resolver: fakeResolver{
		"public.example":  {netip.MustParseAddr("93.184.216.34")},
		"mixed.example":   {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.1")},
		"private.example": {netip.MustParseAddr("192.168.1.1")},
	}}
	for ip, ok := range map[string]bool{
		"93.184.216.34": true, "2606:2800:220:1:248:1893:25c8:1946": true,
		"127.0.0.1": false, "127.8.9.10": false, "::1": false, "10.0.0.1": false, "172.16.0.1": false,
		"192.168.0.1": false, "169.254.169.254": false, "fe80::1": false, "fc00::1": false, "0.0.0.0": false,
		"::": false, "224.0.0.1": false, "ff02::1": false, "100.64.0.1": false, "255.255.255.255": false,
		"::ffff:127.0.0.1": false, "64:ff9b::a00:1": false,
	} {
		if err := g.checkIP(netip.MustParseAddr(ip)); (err == nil) != ok {
			t.Errorf("checkIP(%s) = %v, want allowed=%v", ip, err, ok)
		}
	}
	ctx := context.Background()
	for host, ok := range map[string]bool{
		"public.example": true, "mixed.example": false, "private.example": false, "nxdomain.example": false,
		"93.184.216.34": true, "127.0.0.1": false,
	} {
		if err := g.checkHost(ctx, host); (err == nil) != ok {
			t.Errorf("checkHost(%s) = %v, want allowed=%v", host, err, ok)
		}
	}
	open := &ipGuard{allowPrivate: true}
	if err := open.checkHost(ctx, "127.0.0.1"); err != nil {
		t.Errorf("allow-private refused loopback: %v", err)
	}
}

func TestCallbackBacklogFullIs503(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config, _ *Deps) {
		c.CallbackAllowPrivate = true
		c.MaxPendingCallbacks = 1
	})
	h := newHook(t, 0, 0)
	body := map[string]any{"language": "python", "source": "1", "callback_url": h.srv.URL}
	wantStatus(t, b.do(t, "POST", "/v1/submissions", body), 201)
	resp := b.do(t, "POST", "/v1/submissions", body)
	wantStatus(t, resp, http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" || b.q.count() != 1 {
		t.Fatalf("Retry-After %q, %d queued", resp.Header.Get("Retry-After"), b.q.count())
	}
}
