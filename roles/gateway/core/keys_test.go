package core

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/execbox/app/pkg/sqlitestore"
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

func TestMemoryLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := NewMemoryLimiter(2, 3, 10, func() time.Time { return now })
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

// openSQLite is the embedded store, which keeps keys, in a temporary directory.
func openSQLite(t *testing.T) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.OpenDir(t.Context(), t.TempDir(), slog.New(slog.DiscardHandler), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestKeyCacheBounded(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	s := newStoreKeys(openSQLite(t), time.Minute, clk.now, slog.New(slog.DiscardHandler))
	s.max = 10
	for i := range 100 {
		if _, ok, err := s.lookup(t.Context(), sha256.Sum256([]byte(strconv.Itoa(i)))); err != nil || ok {
			t.Fatalf("lookup %d = %v, %v", i, ok, err)
		}
	}
	if n := len(s.cache); n > 10 {
		t.Fatalf("%d cache entries, max 10", n)
	}
}
