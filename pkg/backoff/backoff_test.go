package backoff

import (
	"context"
	"testing"
	"time"
)

func TestNextDoublesUpToMaxAndResets(t *testing.T) {
	t.Parallel()
	b := New(100*time.Millisecond, time.Second)
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if p := b.Peek(); p != w*time.Millisecond {
			t.Fatalf("step %d: Peek = %v, want %v", i, p, w*time.Millisecond)
		}
		if got := b.Next(); got != w*time.Millisecond {
			t.Fatalf("step %d: Next = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	b.Reset()
	if got := b.Next(); got != 100*time.Millisecond {
		t.Fatalf("after Reset: Next = %v, want 100ms", got)
	}
}

func TestJitterStaysWithinBounds(t *testing.T) {
	t.Parallel()
	for range 1000 {
		b := &Backoff{Min: time.Second, Max: time.Second, Jitter: 0.2}
		if d := b.Next(); d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Fatalf("Next = %v, want 1s ±20%%", d)
		}
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep of a canceled context reported the full wait")
	}
	if err := New(time.Hour, time.Hour).Wait(ctx); err != context.Canceled {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	if !Sleep(context.Background(), 0) {
		t.Fatal("Sleep(0) did not report the wait as done")
	}
}
