package lifecycle

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, s)
}

func (r *recorder) service(name string, fail error) Named {
	return Named{Name: name, Service: Func(func(ctx context.Context) error {
		r.add("start " + name)
		if fail != nil {
			return fail
		}
		<-ctx.Done()
		r.add("stop " + name)
		return nil
	})}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestRunStopsInReverseOrder(t *testing.T) {
	t.Parallel()
	var r recorder
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Run(ctx, quiet(), r.service("a", nil), r.service("b", nil), r.service("c", nil)) }()
	time.Sleep(20 * time.Millisecond) // let them start; order of starts is not asserted
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	var stops []string
	for _, l := range r.log {
		if l[:4] == "stop" {
			stops = append(stops, l)
		}
	}
	want := []string{"stop c", "stop b", "stop a"}
	if len(stops) != 3 || stops[0] != want[0] || stops[1] != want[1] || stops[2] != want[2] {
		t.Fatalf("stops = %v, want %v", stops, want)
	}
}

func TestRunFailureStopsAll(t *testing.T) {
	t.Parallel()
	var r recorder
	boom := errors.New("boom")
	err := Run(context.Background(), quiet(), r.service("a", nil), r.service("b", boom))
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
}

func TestRunServiceReturningNilEarlyIsFailure(t *testing.T) {
	t.Parallel()
	err := Run(context.Background(), quiet(), Named{Name: "x", Service: Func(func(context.Context) error { return nil })})
	if err == nil {
		t.Fatal("Run = nil, want error for a service that stopped on its own")
	}
}
