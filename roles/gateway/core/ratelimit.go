package core

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/execbox/app/pkg/httpx"
)

// Decision is a rate limiter's answer for one request.
type Decision struct {
	Allowed bool
	// Limit is the bucket size (burst); Remaining what is left after this
	// request; Reset the time until the bucket is full again.
	Limit     int
	Remaining int
	Reset     time.Duration
	// RetryAfter is how long to wait before the request would be allowed
	// (only when not allowed).
	RetryAfter time.Duration
}

// Limiter is a per-key token bucket.
type Limiter interface {
	// Allow takes cost tokens from key's bucket if it holds them.
	Allow(ctx context.Context, key string, cost int) (Decision, error)
}

// MemoryLimiter keeps one golang.org/x/time/rate bucket per key in this
// process.
type MemoryLimiter struct {
	rate    rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewMemoryLimiter allows perSecond sustained with bursts of burst, for at
// most maxKeys keys at once (idle full buckets are forgotten first). now is
// the clock (nil: time.Now).
func NewMemoryLimiter(perSecond float64, burst, maxKeys int, now func() time.Time) *MemoryLimiter {
	if now == nil {
		now = time.Now
	}
	return &MemoryLimiter{rate: rate.Limit(perSecond), burst: burst, maxKeys: maxKeys, now: now,
		buckets: map[string]*rate.Limiter{}}
}

// Allow implements Limiter.
func (m *MemoryLimiter) Allow(_ context.Context, key string, cost int) (Decision, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets[key]
	if !ok {
		if len(m.buckets) >= m.maxKeys {
			m.evict(now)
		}
		b = rate.NewLimiter(m.rate, m.burst)
		m.buckets[key] = b
	}
	d := Decision{Limit: m.burst, Allowed: b.AllowN(now, cost)}
	tokens := b.TokensAt(now)
	d.Remaining = max(0, int(math.Floor(tokens)))
	d.Reset = m.seconds(float64(m.burst) - tokens)
	if !d.Allowed {
		d.RetryAfter = m.seconds(float64(cost) - tokens)
		if cost > m.burst {
			d.RetryAfter = d.Reset
		}
	}
	return d, nil
}

func (m *MemoryLimiter) seconds(tokens float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	return time.Duration(tokens / float64(m.rate) * float64(time.Second))
}

// evict forgets buckets that are full again (indistinguishable from new
// ones); if none is, it forgets an arbitrary half to stay bounded.
func (m *MemoryLimiter) evict(now time.Time) {
	for k, b := range m.buckets {
		if b.TokensAt(now) >= float64(m.burst) {
			delete(m.buckets, k)
		}
	}
	for k := range m.buckets {
		if len(m.buckets) < m.maxKeys/2 {
			break
		}
		delete(m.buckets, k)
	}
}

// gcraScript is the generic cell rate algorithm (as in redis-cell and
// go-redis/redis_rate): one key per bucket holding the theoretical arrival
// time (TAT) in seconds since an epoch, with Redis's own clock so that every
// gateway agrees. KEYS[1] bucket; ARGV: burst, rate per second, cost.
// Returns {allowed, remaining, retry_after_s, reset_after_s}.
var gcraScript = redis.NewScript(`
local key = KEYS[1]
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local emission = 1 / rate
local increment = emission * cost
local burst_offset = emission * burst
local t = redis.call("TIME")
local now = (t[1] - 1700000000) + t[2] / 1000000
local tat = tonumber(redis.call("GET", key)) or now
if tat < now then tat = now end
local new_tat = tat + increment
local diff = now - (new_tat - burst_offset)
if diff < 0 then
  return {0, 0, tostring(-diff), tostring(tat - now)}
end
local reset_after = new_tat - now
if reset_after > 0 then
  redis.call("SET", key, tostring(new_tat), "EX", math.ceil(reset_after))
end
return {1, math.floor(diff / emission), "0", tostring(reset_after)}
`)

// RedisLimiter keeps the buckets in Redis (GCRA), shared by every gateway.
type RedisLimiter struct {
	rdb    redis.Scripter
	prefix string
	rate   float64
	burst  int
}

// NewRedisLimiter allows perSecond sustained with bursts of burst per key,
// storing one Redis key per bucket under prefix.
func NewRedisLimiter(rdb redis.Scripter, prefix string, perSecond float64, burst int) *RedisLimiter {
	return &RedisLimiter{rdb: rdb, prefix: prefix, rate: perSecond, burst: burst}
}

// Allow implements Limiter.
func (l *RedisLimiter) Allow(ctx context.Context, key string, cost int) (Decision, error) {
	v, err := gcraScript.Run(ctx, l.rdb, []string{l.prefix + key}, l.burst, l.rate, cost).Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit: %w", err)
	}
	if len(v) != 4 {
		return Decision{}, fmt.Errorf("rate limit: unexpected script answer %v", v)
	}
	allowed, _ := v[0].(int64)
	remaining, _ := v[1].(int64)
	retry, _ := strconv.ParseFloat(fmt.Sprint(v[2]), 64)
	reset, _ := strconv.ParseFloat(fmt.Sprint(v[3]), 64)
	d := Decision{Allowed: allowed == 1, Limit: l.burst, Remaining: int(remaining),
		Reset: time.Duration(reset * float64(time.Second))}
	if !d.Allowed {
		d.RetryAfter = time.Duration(retry * float64(time.Second))
		if cost > l.burst {
			d.RetryAfter = d.Reset
		}
	}
	return d, nil
}

// Allow charges cost tokens to the Caller's bucket, sets the RateLimit
// headers and, when the bucket is empty, answers 429 and reports false. A
// failing limiter (Redis down) lets the request through, logged: losing
// rate limiting for a moment is better than losing the API.
func (s *Service) Allow(w http.ResponseWriter, req *http.Request, api API, cost int) bool {
	if s.limiter == nil {
		return true
	}
	c := CallerFrom(req.Context())
	d, err := s.limiter.Allow(req.Context(), c.limitKey, cost)
	if err != nil {
		httpx.Logger(req.Context(), s.log).Warn("rate limiter unavailable, request allowed", "err", err)
		return true
	}
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(CeilSeconds(d.Reset)))
	if d.Allowed {
		return true
	}
	s.metrics.rateLimited.WithLabelValues(api.Name).Inc()
	s.metrics.rejected.WithLabelValues("rate_limited").Inc()
	retry := time.Duration(CeilSeconds(d.RetryAfter)) * time.Second
	if retry <= 0 {
		retry = time.Second
	}
	WriteProblem(w, req, httpx.Problem{Status: http.StatusTooManyRequests, Title: "rate limit exceeded", Code: "rate_limited",
		Detail:     fmt.Sprintf("at most %g submissions per second with bursts of %d; retry after %s", s.cfg.RateLimit, d.Limit, retry),
		RetryAfter: retry}, api)
	return false
}
