package queue_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
	"github.com/execbox/app/pkg/live/livetest"
	pkgqueue "github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/queue/queuehttp"
	"github.com/execbox/app/pkg/queue/queuetest"
	"github.com/execbox/app/pkg/testenv"
	"github.com/execbox/app/roles/queue"
)

var discard = slog.New(slog.DiscardHandler)

// serve runs the role's full handler (API, /ready, /metrics) on a test server.
func serve(t *testing.T, cfg queue.Config) (*queue.Role, *httptest.Server) {
	t.Helper()
	r, err := queue.New(cfg, discard, queue.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpx.NewServer(httpx.Config{}, discard)
	r.Register(srv)
	r.Mount(srv)
	ts := httptest.NewServer(srv.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Work(ctx) }()
	t.Cleanup(func() {
		ts.Close()
		cancel()
		<-done
	})
	return r, ts
}

func config(o queuetest.Options) queue.Config {
	return queue.Config{InternalToken: "secret", Visibility: o.Visibility, MaxDeliveries: o.MaxDeliveries, MaxLength: o.MaxLength}
}

func TestContractOverHTTPWithRedis(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, o queuetest.Options) pkgqueue.Queue {
		url, prefix := testenv.Redis(t)
		cfg := config(o)
		cfg.RedisURL, cfg.RedisPrefix = url, prefix
		_, ts := serve(t, cfg)
		return queuehttp.NewClient(ts.URL, nil).WithToken("secret")
	})
}

func TestContractOverHTTPInProcess(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, o queuetest.Options) pkgqueue.Queue {
		_, ts := serve(t, config(o))
		return queuehttp.NewClient(ts.URL, nil).WithToken("secret")
	})
}

func TestTokenRequired(t *testing.T) {
	t.Parallel()
	_, ts := serve(t, queue.Config{InternalToken: "secret"})
	_, err := queuehttp.NewClient(ts.URL, nil).WithToken("wrong").Stats(context.Background())
	var p *httpx.Problem
	if !errors.As(err, &p) || p.Status != http.StatusUnauthorized {
		t.Fatalf("Stats with a wrong token = %v, want 401", err)
	}
}

func TestFullIsServiceUnavailableWithRetryAfter(t *testing.T) {
	t.Parallel()
	_, ts := serve(t, queue.Config{MaxLength: 1})
	c := queuehttp.NewClient(ts.URL, nil)
	ctx := context.Background()
	if _, err := c.Enqueue(ctx, queuetest.Req(job.PriorityNormal, 1)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Enqueue(ctx, queuetest.Req(job.PriorityNormal, 2))
	var p *httpx.Problem
	if !errors.Is(err, pkgqueue.ErrFull) {
		t.Fatalf("Enqueue when full = %v, want ErrFull", err)
	}
	resp, err := http.Post(ts.URL+"/queue/v1/jobs", "application/json", strings.NewReader(`{"language":"bash","files":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p = httpx.ReadProblem(resp)
	if resp.StatusCode != http.StatusServiceUnavailable || p.Code != "queue_full" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("full queue answered %d %+v (Retry-After %q); want 503 queue_full with Retry-After", resp.StatusCode, p, resp.Header.Get("Retry-After"))
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	url, prefix := testenv.Redis(t)
	r, ts := serve(t, queue.Config{RedisURL: url, RedisPrefix: prefix})
	ctx := context.Background()
	q := r.Queue()
	for i := range 3 {
		if _, err := q.Enqueue(ctx, queuetest.Req(job.PriorityLow, i)); err != nil {
			t.Fatal(err)
		}
	}
	if l, err := q.Lease(ctx, "w", time.Second); err != nil || l == nil {
		t.Fatalf("Lease = %v, %v", l, err)
	}
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`execbox_queue_depth{priority="low"} 2`,
		`execbox_queue_depth{priority="high"} 0`,
		"execbox_queue_leased 1",
		"execbox_queue_leases_total 1",
		"execbox_queue_redeliveries_total 0",
		"execbox_queue_dead_letters 0",
		"execbox_queue_time_in_queue_seconds_count 1",
		`execbox_queue_enqueued_total{outcome="ok",priority="low"} 3`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestLiveContractOverHTTP(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		livetest.Run(t, func(t *testing.T) live.Hub {
			url, prefix := testenv.Redis(t)
			cfg := config(queuetest.Options{})
			cfg.RedisURL, cfg.RedisPrefix = url, prefix
			_, ts := serve(t, cfg)
			return queuehttp.NewClient(ts.URL, nil).WithToken("secret")
		})
	})
	t.Run("in process", func(t *testing.T) {
		livetest.Run(t, func(t *testing.T) live.Hub {
			_, ts := serve(t, config(queuetest.Options{}))
			return queuehttp.NewClient(ts.URL, nil).WithToken("secret")
		})
	})
}
