package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestParseAPIKeys(t *testing.T) {
	t.Parallel()
	kr, err := parseAPIKeys("alice:" + sha("secret-a") + ", raw-key-b, ")
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := kr.lookup("secret-a"); !ok || id != "alice" {
		t.Fatalf("lookup(secret-a) = %q %v", id, ok)
	}
	if id, ok := kr.lookup("raw-key-b"); !ok || id != "key-"+sha("raw-key-b")[:8] {
		t.Fatalf("lookup(raw-key-b) = %q %v", id, ok)
	}
	for _, bad := range []string{"", "secret", "alice:" + sha("secret-a")} {
		if _, ok := kr.lookup(bad); ok {
			t.Errorf("lookup(%q) matched", bad)
		}
	}
	for _, k := range kr.keys {
		if string(k.hash[:]) == "raw-key-b" {
			t.Fatal("raw key kept")
		}
	}
	if _, err := parseAPIKeys("a:" + sha("x") + ",a:" + sha("y")); err == nil {
		t.Error("duplicate key ids accepted")
	}
	if _, err := parseAPIKeys(":" + sha("x")); err == nil {
		t.Error("empty key id accepted")
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config, _ *Deps) { c.APIKeys = "alice:" + sha("sa") + ",sb" })
	body := map[string]any{"language": "python", "source": "1"}
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"missing", nil, 401},
		{"wrong bearer", []string{"Authorization", "Bearer nope"}, 401},
		{"wrong scheme", []string{"Authorization", "Basic c2E="}, 401},
		{"wrong x-api-key", []string{"X-Api-Key", "sab"}, 401},
		{"bearer", []string{"Authorization", "Bearer sa"}, 201},
		{"bearer lower case", []string{"Authorization", "bearer sb"}, 201},
		{"x-api-key", []string{"X-Api-Key", "sa"}, 201},
		{"x-auth-token", []string{"X-Auth-Token", "sb"}, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.q.count()
			resp := b.do(t, "POST", "/v1/submissions", body, tc.headers...)
			wantStatus(t, resp, tc.status)
			if tc.status == 401 {
				var p httpx.Problem
				decodeBody(t, resp, &p)
				if p.Code != "unauthorized" || p.Detail == "" || resp.Header.Get("WWW-Authenticate") == "" {
					t.Fatalf("401 = %+v", p)
				}
				if b.q.count() != before {
					t.Fatal("unauthenticated request queued")
				}
			}
		})
	}
	// Every API answers 401 without a key; docs do not need one.
	for _, path := range []string{"/v1/languages", "/languages", "/statuses", "/api/v2/runtimes", "/submissions/" + job.NewID(time.Now())} {
		wantStatus(t, b.do(t, "GET", path, nil), 401)
	}
	for _, path := range []string{"/openapi.json", "/docs"} {
		wantStatus(t, b.do(t, "GET", path, nil), 200)
	}

	// A key sees only its own submissions.
	var c SubmissionCreated
	decodeBody(t, wantStatusResp(t, b.do(t, "POST", "/v1/submissions", body, "X-Api-Key", "sa"), 201), &c)
	if got := b.q.last().APIKeyID; got != "alice" {
		t.Fatalf("api_key_id = %q", got)
	}
	wantStatus(t, b.do(t, "GET", "/v1/submissions/"+c.ID, nil, "X-Api-Key", "sa"), 200)
	wantStatus(t, b.do(t, "GET", "/v1/submissions/"+c.ID, nil, "X-Api-Key", "sb"), 404)
	wantStatus(t, b.do(t, "DELETE", "/v1/submissions/"+c.ID, nil, "X-Api-Key", "sb"), 404)
	wantStatus(t, b.do(t, "GET", "/v1/submissions/"+c.ID+"/events", nil, "X-Api-Key", "sb"), 404)
	wantStatus(t, b.do(t, "GET", "/v1/submissions", nil, "X-Api-Key", "sb"), 200)
	if f := b.st.filters[len(b.st.filters)-1]; f.APIKeyID != "key-"+sha("sb")[:8] {
		t.Fatalf("list filter not scoped to the key: %+v", f)
	}
}

func TestMemoryLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := NewMemoryLimiter(2, 3, 10)
	l.now = func() time.Time { return now }
	ctx := t.Context()
	for i := 0; i < 3; i++ {
		d, _ := l.Allow(ctx, "k", 1)
		if !d.Allowed || d.Remaining != 2-i || d.Limit != 3 {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d, _ := l.Allow(ctx, "k", 1)
	if d.Allowed || d.RetryAfter != 500*time.Millisecond || d.Reset != 1500*time.Millisecond {
		t.Fatalf("4th request: %+v", d)
	}
	if d, _ := l.Allow(ctx, "other", 1); !d.Allowed {
		t.Fatal("keys share a bucket")
	}
	now = now.Add(500 * time.Millisecond)
	if d, _ := l.Allow(ctx, "k", 1); !d.Allowed {
		t.Fatalf("after refill: %+v", d)
	}
	if d, _ := l.Allow(ctx, "k", 4); d.Allowed || d.RetryAfter <= 0 {
		t.Fatalf("cost above burst: %+v", d)
	}
	// Bounded: many keys do not grow the map past maxKeys.
	for i := 0; i < 100; i++ {
		_, _ = l.Allow(ctx, strconv.Itoa(i), 1)
	}
	if n := len(l.buckets); n > 10 {
		t.Fatalf("%d buckets kept, max 10", n)
	}
}

func TestRateLimitAnswers429(t *testing.T) {
	t.Parallel()
	lim := NewMemoryLimiter(1, 2, 100)
	frozen := time.Unix(1_700_000_000, 0)
	lim.now = func() time.Time { return frozen }
	b := setup(t, func(c *Config, d *Deps) {
		c.RateLimit, c.RateBurst = 1, 2
		d.Limiter = lim
	})
	body := map[string]any{"language": "python", "source": "1"}
	for i := 0; i < 2; i++ {
		resp := b.do(t, "POST", "/v1/submissions", body)
		wantStatus(t, resp, 201)
		if got := resp.Header.Get("RateLimit-Remaining"); got != strconv.Itoa(1-i) {
			t.Fatalf("RateLimit-Remaining = %q", got)
		}
	}
	for _, path := range []string{"/v1/submissions", "/submissions", "/api/v2/execute"} {
		resp := b.do(t, "POST", path, body)
		wantStatus(t, resp, http.StatusTooManyRequests)
		h := resp.Header
		if h.Get("Retry-After") != "1" || h.Get("RateLimit-Limit") != "2" || h.Get("RateLimit-Remaining") != "0" || h.Get("RateLimit-Reset") != "2" {
			t.Fatalf("%s headers = %v", path, h)
		}
	}
	if b.q.count() != 2 {
		t.Fatalf("%d queued, want 2", b.q.count())
	}
	// Reads are not rate limited.
	wantStatus(t, b.do(t, "GET", "/v1/languages", nil), 200)
}

func TestMaxInFlight(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config, _ *Deps) { c.MaxInFlight = 2 })
	body := map[string]any{"language": "python", "source": "1"}
	var first SubmissionCreated
	decodeBody(t, wantStatusResp(t, b.do(t, "POST", "/v1/submissions", body), 201), &first)
	wantStatus(t, b.do(t, "POST", "/v1/submissions", body), 201)
	resp := b.do(t, "POST", "/v1/submissions", body)
	wantStatus(t, resp, http.StatusTooManyRequests)
	var p httpx.Problem
	decodeBody(t, resp, &p)
	if p.Code != "too_many_in_flight" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("problem = %+v", p)
	}
	finish(b.q, first.ID, job.StatusAccepted, "")
	wantStatus(t, b.do(t, "POST", "/v1/submissions", body), 201)
	if b.q.count() != 3 {
		t.Fatalf("%d queued, want 3", b.q.count())
	}
}
