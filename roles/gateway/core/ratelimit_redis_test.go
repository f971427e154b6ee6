package core_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/testenv"
	"github.com/execbox/app/roles/gateway"
	"github.com/execbox/app/roles/gateway/core"
	"github.com/execbox/app/roles/gateway/internal/gatewaytest"
)

// TestRedisLimiter runs the GCRA script against the real test Redis.
func TestRedisLimiter(t *testing.T) {
	t.Parallel()
	url, prefix := testenv.Redis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	ctx := t.Context()
	// One token per 100 s: nothing refills while the test runs.
	const rate, burst = 0.01, 3
	a := core.NewRedisLimiter(rdb, prefix, rate, burst)
	b := core.NewRedisLimiter(rdb, prefix, rate, burst) // a second gateway
	for i := 0; i < burst; i++ {
		l := a
		if i%2 == 1 {
			l = b
		}
		d, err := l.Allow(ctx, "key", 1)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed || d.Remaining != burst-1-i || d.Limit != burst {
			t.Fatalf("request %d: %+v", i, d)
		}
		if d.Reset <= 0 || d.Reset > time.Duration(i+1)*100*time.Second {
			t.Fatalf("request %d: reset %s", i, d.Reset)
		}
	}
	d, err := b.Allow(ctx, "key", 1)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.Remaining != 0 || d.RetryAfter <= 90*time.Second || d.RetryAfter > 100*time.Second {
		t.Fatalf("over the burst: %+v", d)
	}
	if d, _ := a.Allow(ctx, "other", 1); !d.Allowed {
		t.Fatal("keys share a bucket")
	}
	if d, _ := a.Allow(ctx, "big", burst+1); d.Allowed {
		t.Fatal("a cost above the burst was allowed")
	}
	// The bucket expires once it would be full again.
	ttl, err := rdb.TTL(ctx, prefix+"key").Result()
	if err != nil || ttl <= 0 || ttl > 301*time.Second {
		t.Fatalf("ttl %s %v", ttl, err)
	}

	// A fast rate refills: with 1000/s a denied request succeeds after its
	// RetryAfter.
	fast := core.NewRedisLimiter(rdb, prefix+"fast:", 1000, 1)
	if d, _ := fast.Allow(ctx, "k", 1); !d.Allowed {
		t.Fatal("first request denied")
	}
	d, _ = fast.Allow(ctx, "k", 1)
	if d.Allowed {
		// The millisecond passed already; nothing to check.
		return
	}
	time.Sleep(d.RetryAfter + time.Millisecond)
	if d, _ := fast.Allow(ctx, "k", 1); !d.Allowed {
		t.Fatalf("after RetryAfter: %+v", d)
	}
}

func TestRedisLimiterDownFailsOpen(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	lim := core.NewRedisLimiter(rdb, "x:", 1, 1)
	if _, err := lim.Allow(t.Context(), "k", 1); err == nil {
		t.Fatal("no error from an unreachable Redis")
	}
	b := gatewaytest.Setup(t, func(c *gateway.Config, d *gateway.Deps) { c.RateLimit = 1; d.Limiter = lim })
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", map[string]any{"language": "python", "source": "1"}), 201)
}
