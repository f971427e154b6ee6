package executor_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/registry"
	"github.com/execbox/app/pkg/sandbox"
	"github.com/execbox/app/pkg/testenv"
	"github.com/execbox/app/roles/executor"
)

// TestAnnouncesItself: with --registry-url the executor announces its URL,
// capacity, languages and health in the queue's Redis while it works, and
// withdraws the moment it stops.
func TestAnnouncesItself(t *testing.T) {
	t.Parallel()
	testenv.Docker(t)
	url, prefix := testenv.Redis(t)
	inst := instance()
	role, err := executor.New(executor.Config{
		RuntimesFile: testenv.Runtimes(t),
		Registry:     registry.Config{URL: url, Prefix: prefix},
		AnnounceURL:  "http://127.0.0.1:1", AnnounceTTL: 900 * time.Millisecond,
		Sandbox: sandbox.Config{AgentBinary: testenv.BuildBinary(t), Instance: inst, Slots: 3, CPUs: 1, PoolSize: 0},
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	opt, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	reg := registry.New(rdb, prefix)

	ctx, cancel := context.WithCancel(context.Background())
	work := make(chan error, 1)
	go func() { work <- role.Work(ctx) }()
	var e registry.Entry
	for deadline := time.Now().Add(60 * time.Second); ; {
		es, err := reg.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 1 && es[0].Healthy {
			e = es[0]
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no healthy announcement within 60 s: %+v", es)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if e.Name != inst || e.URL != "http://127.0.0.1:1" || e.Slots != 3 || !slices.Contains(e.Languages, "python") {
		t.Errorf("announced %+v, want name %s, its URL, 3 slots, python among the languages", e, inst)
	}
	cancel()
	if err := <-work; err != nil {
		t.Fatalf("Work: %v", err)
	}
	if es, err := reg.List(context.Background()); err != nil || len(es) != 0 {
		t.Fatalf("after stop the registry lists %+v, %v; want nothing", es, err)
	}
}

func TestAnnounceNeedsURL(t *testing.T) {
	t.Parallel()
	cfg := executor.DefaultConfig()
	cfg.Registry.URL = "redis://127.0.0.1:1/0"
	if err := cfg.Validate(); err == nil {
		t.Error("--registry-url without --announce-url accepted")
	}
	cfg.AnnounceURL = "http://127.0.0.1:8088"
	if err := cfg.Validate(); err != nil {
		t.Errorf("with --announce-url: %v", err)
	}
}
