package registry_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/registry"
	"github.com/execbox/app/pkg/testenv"
)

func newRegistry(t *testing.T) (*registry.Registry, *redis.Client, string) {
	t.Helper()
	url, prefix := testenv.Redis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return registry.New(rdb, prefix), rdb, prefix
}

func names(es []registry.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

func TestAnnounceListWithdraw(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg, _, _ := newRegistry(t)
	if es, err := reg.List(ctx); err != nil || len(es) != 0 {
		t.Fatalf("empty registry List = %v, %v", es, err)
	}
	b := registry.Entry{Name: "b", URL: "http://127.0.0.1:2", Slots: 4, Busy: 1, Languages: []string{"python"}, Healthy: true}
	a := registry.Entry{Name: "a", URL: "http://127.0.0.1:1", Slots: 2, Healthy: false, Error: "docker: down"}
	for _, e := range []registry.Entry{b, a} {
		if err := reg.Announce(ctx, e, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	es, err := reg.List(ctx)
	if err != nil || len(es) != 2 || es[0].Name != "a" || es[1].Name != "b" {
		t.Fatalf("List = %+v, %v; want a and b, by name", es, err)
	}
	if es[1].Free() != 3 || !es[1].Has("python") || es[1].Has("c") || !es[1].Has("") || es[0].Healthy || es[0].Error == "" {
		t.Errorf("entries came back as %+v", es)
	}
	// A second announcement replaces the first.
	b.Busy = 4
	if err := reg.Announce(ctx, b, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := reg.Withdraw(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	es, err = reg.List(ctx)
	if err != nil || len(es) != 1 || es[0].Name != "b" || es[0].Free() != 0 {
		t.Fatalf("after withdraw and re-announce: %+v, %v", es, err)
	}
}

// An executor that dies (no withdrawal) drops out when its entry expires,
// and its name leaves the set.
func TestEntriesExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg, rdb, prefix := newRegistry(t)
	if err := reg.Announce(ctx, registry.Entry{Name: "dies", URL: "http://127.0.0.1:1", Healthy: true}, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := reg.Announce(ctx, registry.Entry{Name: "lives", URL: "http://127.0.0.1:2", Healthy: true}, time.Minute); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		es, err := reg.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 1 && es[0].Name == "lives" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired entry still listed: %v", names(es))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m, err := rdb.SMembers(ctx, strings.TrimSuffix(prefix, ":")+":executors").Result(); err != nil || len(m) != 1 || m[0] != "lives" {
		t.Errorf("set after expiry: %v, %v; want [lives]", m, err)
	}
}

func TestAnnounceRefusesBadEntries(t *testing.T) {
	t.Parallel()
	reg, _, _ := newRegistry(t)
	for _, e := range []registry.Entry{
		{Name: "", URL: "http://127.0.0.1:1"},
		{Name: "a b", URL: "http://127.0.0.1:1"},
		{Name: "a", URL: "127.0.0.1:1"},
		{Name: "a", URL: "http://127.0.0.1:1", Slots: -1},
	} {
		if err := reg.Announce(context.Background(), e, time.Minute); err == nil {
			t.Errorf("Announce(%+v) accepted", e)
		}
	}
}

// Run announces until its context ends, then withdraws at once.
func TestRunAnnouncesThenWithdraws(t *testing.T) {
	t.Parallel()
	reg, _, _ := newRegistry(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	calls := make(chan struct{}, 100)
	go func() {
		done <- reg.Run(ctx, 300*time.Millisecond, func(context.Context) registry.Entry {
			calls <- struct{}{}
			return registry.Entry{Name: "x", URL: "http://127.0.0.1:9", Slots: 1, Healthy: true}
		}, slog.New(slog.DiscardHandler))
	}()
	// Announced again and again (the TTL is shorter than this wait).
	for range 3 {
		<-calls
	}
	es, err := reg.List(context.Background())
	if err != nil || len(es) != 1 || es[0].Name != "x" || es[0].At.IsZero() {
		t.Fatalf("while running: %+v, %v", es, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if es, err := reg.List(context.Background()); err != nil || len(es) != 0 {
		t.Fatalf("after Run returned: %+v, %v; want withdrawn", es, err)
	}
}
