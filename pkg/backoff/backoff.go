// Package backoff is execbox's one retry delay: exponential from Min,
// doubling up to Max, optionally jittered, reset after a success; and Sleep,
// a wait that ends early with its context.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is an exponential retry delay. The zero value of cur starts at
// Min. A Backoff is not safe for concurrent use: give each loop its own.
type Backoff struct {
	// Min is the first delay, Max the longest.
	Min, Max time.Duration
	// Jitter spreads each delay uniformly over ±Jitter of it (0.2: ±20%),
	// so that many retrying clients do not retry in step.
	Jitter float64

	cur time.Duration
}

// New returns a backoff from lo doubling up to hi, without jitter.
func New(lo, hi time.Duration) *Backoff { return &Backoff{Min: lo, Max: hi} }

// Peek returns the delay the next call of Next is based on (before jitter).
func (b *Backoff) Peek() time.Duration {
	if b.cur == 0 {
		return b.Min
	}
	return b.cur
}

// Next returns the current delay (jittered) and doubles the next one, up to
// Max.
func (b *Backoff) Next() time.Duration {
	d := b.Peek()
	b.cur = min(2*d, b.Max)
	if b.Jitter > 0 {
		d += time.Duration((rand.Float64()*2 - 1) * b.Jitter * float64(d))
	}
	return d
}

// Reset starts over from Min (after a success).
func (b *Backoff) Reset() { b.cur = 0 }

// Wait sleeps for Next; it returns ctx's error if ctx ends first.
func (b *Backoff) Wait(ctx context.Context) error {
	if !Sleep(ctx, b.Next()) {
		return ctx.Err()
	}
	return nil
}

// Sleep waits for d or until ctx ends, and reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
