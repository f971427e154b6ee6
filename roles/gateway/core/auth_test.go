package core_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/sqlitestore"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/roles/gateway"
	"github.com/execbox/app/roles/gateway/core"
	"github.com/execbox/app/roles/gateway/internal/gatewaytest"
	"github.com/execbox/app/roles/gateway/native"
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, func(c *gateway.Config, _ *gateway.Deps) { c.APIKeys = "alice:" + sha("sa") + ",sb" })
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
			before := b.Q.Count()
			resp := b.Do(t, "POST", "/v1/submissions", body, tc.headers...)
			gatewaytest.WantStatus(t, resp, tc.status)
			if tc.status == 401 {
				var p httpx.Problem
				gatewaytest.DecodeBody(t, resp, &p)
				if p.Code != "unauthorized" || p.Detail == "" || resp.Header.Get("WWW-Authenticate") == "" {
					t.Fatalf("401 = %+v", p)
				}
				if b.Q.Count() != before {
					t.Fatal("unauthenticated request queued")
				}
			}
		})
	}
	// Every API answers 401 without a key; docs do not need one.
	for _, path := range []string{"/v1/languages", "/languages", "/statuses", "/api/v2/runtimes", "/submissions/" + job.NewID(time.Now())} {
		gatewaytest.WantStatus(t, b.Do(t, "GET", path, nil), 401)
	}
	for _, path := range []string{"/openapi.json", "/docs"} {
		gatewaytest.WantStatus(t, b.Do(t, "GET", path, nil), 200)
	}

	// A key sees only its own submissions.
	var c native.SubmissionCreated
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "POST", "/v1/submissions", body, "X-Api-Key", "sa"), 201), &c)
	if got := b.Q.Last().APIKeyID; got != "alice" {
		t.Fatalf("api_key_id = %q", got)
	}
	gatewaytest.WantStatus(t, b.Do(t, "GET", "/v1/submissions/"+c.ID, nil, "X-Api-Key", "sa"), 200)
	gatewaytest.WantStatus(t, b.Do(t, "GET", "/v1/submissions/"+c.ID, nil, "X-Api-Key", "sb"), 404)
	gatewaytest.WantStatus(t, b.Do(t, "DELETE", "/v1/submissions/"+c.ID, nil, "X-Api-Key", "sb"), 404)
	gatewaytest.WantStatus(t, b.Do(t, "GET", "/v1/submissions/"+c.ID+"/events", nil, "X-Api-Key", "sb"), 404)
	gatewaytest.WantStatus(t, b.Do(t, "GET", "/v1/submissions", nil, "X-Api-Key", "sb"), 200)
	if f := b.St.Filters()[len(b.St.Filters())-1]; f.APIKeyID != "key-"+sha("sb")[:8] {
		t.Fatalf("list filter not scoped to the key: %+v", f)
	}
}

func TestRateLimitAnswers429(t *testing.T) {
	t.Parallel()
	frozen := time.Unix(1_700_000_000, 0)
	lim := core.NewMemoryLimiter(1, 2, 100, func() time.Time { return frozen })
	b := gatewaytest.Setup(t, func(c *gateway.Config, d *gateway.Deps) {
		c.RateLimit, c.RateBurst = 1, 2
		d.Limiter = lim
	})
	body := map[string]any{"language": "python", "source": "1"}
	for i := 0; i < 2; i++ {
		resp := b.Do(t, "POST", "/v1/submissions", body)
		gatewaytest.WantStatus(t, resp, 201)
		if got := resp.Header.Get("RateLimit-Remaining"); got != strconv.Itoa(1-i) {
			t.Fatalf("RateLimit-Remaining = %q", got)
		}
	}
	for _, path := range []string{"/v1/submissions", "/submissions", "/api/v2/execute"} {
		resp := b.Do(t, "POST", path, body)
		gatewaytest.WantStatus(t, resp, http.StatusTooManyRequests)
		h := resp.Header
		if h.Get("Retry-After") != "1" || h.Get("RateLimit-Limit") != "2" || h.Get("RateLimit-Remaining") != "0" || h.Get("RateLimit-Reset") != "2" {
			t.Fatalf("%s headers = %v", path, h)
		}
	}
	if b.Q.Count() != 2 {
		t.Fatalf("%d queued, want 2", b.Q.Count())
	}
	// Reads are not rate limited.
	gatewaytest.WantStatus(t, b.Do(t, "GET", "/v1/languages", nil), 200)
}

func TestMaxInFlight(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, func(c *gateway.Config, _ *gateway.Deps) { c.MaxInFlight = 2 })
	body := map[string]any{"language": "python", "source": "1"}
	var first native.SubmissionCreated
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "POST", "/v1/submissions", body), 201), &first)
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", body), 201)
	resp := b.Do(t, "POST", "/v1/submissions", body)
	gatewaytest.WantStatus(t, resp, http.StatusTooManyRequests)
	var p httpx.Problem
	gatewaytest.DecodeBody(t, resp, &p)
	if p.Code != "too_many_in_flight" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("problem = %+v", p)
	}
	b.Q.Finish(first.ID, job.StatusAccepted, "")
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", body), 201)
	if b.Q.Count() != 3 {
		t.Fatalf("%d queued, want 3", b.Q.Count())
	}
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// countingKeys is the embedded store counting key lookups, and failing
// every key call while down is set.
type countingKeys struct {
	*sqlitestore.Store
	lookups, lists atomic.Int64
	down           atomic.Bool
}

var errDown = errors.New("storage down (test)")

func (c *countingKeys) LookupKey(ctx context.Context, h [32]byte) (store.Key, error) {
	c.lookups.Add(1)
	if c.down.Load() {
		return store.Key{}, errDown
	}
	return c.Store.LookupKey(ctx, h)
}

func (c *countingKeys) ListKeys(ctx context.Context) ([]store.Key, error) {
	c.lists.Add(1)
	if c.down.Load() {
		return nil, errDown
	}
	return c.Store.ListKeys(ctx)
}

func sqliteKeys(t *testing.T) *countingKeys {
	t.Helper()
	s, err := sqlitestore.OpenDir(t.Context(), t.TempDir(), gatewaytest.Logger(t), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &countingKeys{Store: s}
}

func createKey(t *testing.T, s store.KeyStore, id, secret string) {
	t.Helper()
	if _, err := s.CreateKey(t.Context(), store.NewKey{ID: id, Hash: sha256.Sum256([]byte(secret))}); err != nil {
		t.Fatal(err)
	}
}

// TestAuthStoreKeys: keys kept in the (real, embedded) store work beside
// configured ones; answers are cached for the TTL, so revocation takes
// effect within it; the gateway is open only until the first key exists.
func TestAuthStoreKeys(t *testing.T) {
	t.Parallel()
	ks := sqliteKeys(t)
	clk := &clock{t: time.Now()}
	const ttl = 30 * time.Second
	b := gatewaytest.Setup(t, func(c *gateway.Config, d *gateway.Deps) {
		c.APIKeyCacheTTL = ttl
		d.Store, d.Clock = ks, clk.now
	})
	body := map[string]any{"language": "python", "source": "1"}
	post := func(want int, headers ...string) {
		t.Helper()
		gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", body, headers...), want)
	}

	// No key anywhere: open.
	post(201)
	createKey(t, ks, "bob", "ebx_bob")
	post(201) // the "open" answer is cached for the TTL
	clk.add(ttl)
	post(401)
	post(401, "Authorization", "Bearer ebx_nope")
	post(201, "Authorization", "Bearer ebx_bob")
	if got := b.Q.Last().APIKeyID; got != "bob" {
		t.Fatalf("api_key_id = %q, want bob", got)
	}

	// Answers are cached: repeated keys, good or bad, cost one lookup.
	before := ks.lookups.Load()
	for range 5 {
		post(201, "X-Api-Key", "ebx_bob")
		post(401, "X-Api-Key", "ebx_nope")
	}
	if n := ks.lookups.Load() - before; n != 0 {
		t.Errorf("%d store lookups for cached keys, want 0", n)
	}
	// A key made after its refusal works once the refusal expires.
	createKey(t, ks, "carol", "ebx_carol")
	post(401, "X-Api-Key", "ebx_nope")
	clk.add(ttl)
	createKey(t, ks, "nope", "ebx_nope")
	post(201, "X-Api-Key", "ebx_nope")

	// Revocation takes effect within the TTL.
	post(201, "X-Api-Key", "ebx_bob") // looked up again, cached until now+TTL
	if _, err := ks.RevokeKey(t.Context(), "bob"); err != nil {
		t.Fatal(err)
	}
	post(201, "X-Api-Key", "ebx_bob") // still cached
	clk.add(ttl)
	post(401, "X-Api-Key", "ebx_bob")

	// Revoking every key does not open the gateway.
	for _, id := range []string{"carol", "nope"} {
		if _, err := ks.RevokeKey(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	clk.add(ttl)
	post(401)
	post(401, "X-Api-Key", "ebx_carol")

	// Storage down: a key not in the cache can be neither accepted nor
	// refused (503); cached answers still hold.
	createKey(t, ks, "dave", "ebx_dave")
	post(201, "X-Api-Key", "ebx_dave")
	ks.down.Store(true)
	resp := b.Do(t, "POST", "/v1/submissions", body, "X-Api-Key", "ebx_eve")
	gatewaytest.WantStatus(t, resp, 503)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	post(201, "X-Api-Key", "ebx_dave")
}

// TestAuthStoreAndConfigKeys: with --api-keys set, the store is asked only
// for keys not configured, and whether it has keys does not matter.
func TestAuthStoreAndConfigKeys(t *testing.T) {
	t.Parallel()
	ks := sqliteKeys(t)
	b := gatewaytest.Setup(t, func(c *gateway.Config, d *gateway.Deps) {
		c.APIKeys = "alice:" + sha("sa")
		d.Store = ks
	})
	body := map[string]any{"language": "python", "source": "1"}
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", body), 401)
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", body, "X-Api-Key", "sa"), 201)
	if n := ks.lookups.Load(); n != 0 {
		t.Errorf("configured key looked up in the store %d times", n)
	}
	createKey(t, ks, "bob", "ebx_bob")
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", body, "X-Api-Key", "ebx_bob"), 201)
	if got := b.Q.Last().APIKeyID; got != "bob" {
		t.Fatalf("api_key_id = %q, want bob", got)
	}
	if n := ks.lists.Load(); n != 0 {
		t.Errorf("store listed %d times although keys are configured", n)
	}
}

// TestAuthStoreUnknownAtStart: with no configured key and a store that has
// never answered, requests get 503 (not an open gateway) until it answers.
func TestAuthStoreUnknownAtStart(t *testing.T) {
	t.Parallel()
	ks := sqliteKeys(t)
	ks.down.Store(true)
	clk := &clock{t: time.Now()}
	b := gatewaytest.Setup(t, func(_ *gateway.Config, d *gateway.Deps) { d.Store, d.Clock = ks, clk.now })
	body := map[string]any{"language": "python", "source": "1"}
	srv := httpx.NewServer(httpx.Config{Addr: "127.0.0.1:0"}, gatewaytest.Logger(t))
	b.Role.Register(srv)
	if _, ok := srv.CheckReady(t.Context()).Checks["api keys"]; !ok {
		t.Fatal("no readiness check of the store's keys")
	}
	ready := func(ctx context.Context) error {
		st := srv.CheckReady(ctx)
		if slices.Contains(st.Failing, "api keys") {
			return errors.New(st.Checks["api keys"])
		}
		return nil
	}
	if err := ready(t.Context()); err == nil {
		t.Error("ready while the store does not answer")
	}
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", body), 503)
	ks.down.Store(false)
	clk.add(time.Second)
	if err := ready(t.Context()); err != nil {
		t.Errorf("not ready once the store answers: %v", err)
	}
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", body), 201)
	// Open, and the store goes down again: the last answer stands.
	ks.down.Store(true)
	clk.add(time.Hour)
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", body), 201)
}
