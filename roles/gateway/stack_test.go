package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/testenv"
	"github.com/execbox/app/roles/gateway"
	"github.com/execbox/app/roles/gateway/internal/gatewaytest"
	"github.com/execbox/app/roles/gateway/native"
	"github.com/execbox/app/roles/gateway/piston"
	queuerole "github.com/execbox/app/roles/queue"
	storagerole "github.com/execbox/app/roles/storage"
)

// The gateway over the real queue role (pkg/memq, or pkg/redisq on the test
// Redis) and the real storage role (embedded SQLite), either wired in
// process (as app all does) or through the roles' HTTP APIs and clients (as
// the split roles are). Only the worker is a stand-in: it echoes stdin.

type stack struct {
	*gatewaytest.Bundle
	queue queue.Queue
	// gwCfg and gwDeps built the gateway (to start another one).
	gwCfg  gateway.Config
	gwDeps gateway.Deps
	// release lets the worker finish the jobs it holds ("hold" sources).
	release chan struct{}
}

type stackOpts struct {
	viaHTTP  bool
	noWorker bool
	queueMax int64
	// redis runs the queue on the test Redis (pkg/redisq) instead of memq.
	redis bool
	// redisURL runs the queue on this (private) Redis instead.
	redisURL string
	// gateway adjusts the gateway's configuration.
	gateway func(*gateway.Config)
}

func newStack(t *testing.T, o stackOpts) *stack {
	t.Helper()
	log := gatewaytest.Logger(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() { defer wg.Done(); _ = f(ctx) }()
	}

	const token = "internal-secret"
	qcfg := queuerole.Config{InternalToken: token, MaxLength: o.queueMax}
	switch {
	case o.redisURL != "":
		qcfg.RedisURL, qcfg.RedisPrefix = o.redisURL, "t"
	case o.redis:
		qcfg.RedisURL, qcfg.RedisPrefix = testenv.Redis(t)
	}
	qr, err := queuerole.New(qcfg, log, queuerole.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	sr, err := storagerole.New(storagerole.Config{DataDir: t.TempDir(), InternalToken: token, ReadBlock: 50 * time.Millisecond,
		Consumer: "test"}, log, storagerole.Deps{Feed: qr.Feed()})
	if err != nil {
		t.Fatal(err)
	}
	run(qr.Work)
	run(sr.Work)

	cfg := gateway.Config{InternalToken: token}
	deps := gateway.Deps{Catalog: catalog.Default()}
	if o.viaHTTP {
		qs := httptest.NewServer(qr.Handler())
		ss := httptest.NewServer(sr.Handler())
		t.Cleanup(qs.Close)
		t.Cleanup(ss.Close)
		cfg.QueueURL, cfg.StorageURL = qs.URL, ss.URL
	} else {
		deps.Queue, deps.Store = qr.Queue(), sr.Store()
	}
	if o.gateway != nil {
		o.gateway(&cfg)
	}
	gw, err := gateway.New(cfg, log, deps)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{Bundle: gatewaytest.Serve(t, &gatewaytest.Bundle{}, gw), queue: qr.Queue(), release: make(chan struct{}),
		gwCfg: cfg, gwDeps: deps}
	if !o.noWorker {
		run(s.work)
	}
	return s
}

// work leases jobs and completes each with its stdin as stdout; a job whose
// source is "hold" waits for release first.
func (s *stack) work(ctx context.Context) error {
	for ctx.Err() == nil {
		l, err := s.queue.Lease(ctx, "test-worker", 100*time.Millisecond)
		if err != nil || l == nil {
			continue
		}
		go func() {
			req := l.Job.Request
			src, _ := req.Files[0].Bytes()
			if string(src) == "hold" {
				select {
				case <-s.release:
				case <-ctx.Done():
					return
				}
			}
			stdin := req.Stdin
			if len(req.Tests) > 0 {
				stdin = req.Tests[0].Stdin
			}
			now := time.Now().UTC()
			run := &job.Step{Verdict: job.StatusAccepted, Stdout: job.NewOutput([]byte(stdin), false), CPUTimeMs: 1, WallTimeMs: 2, MemoryKB: 1000}
			_ = s.queue.Complete(ctx, l, job.Result{Status: job.StatusAccepted, Run: run, Language: req.Language,
				StartedAt: now, FinishedAt: now})
		}()
	}
	return nil
}

// forBothWirings runs f on app all's wiring (memq in process) and on the
// split roles' (the queue on real Redis, reached over HTTP).
func forBothWirings(t *testing.T, f func(t *testing.T, o stackOpts)) {
	for _, o := range []stackOpts{{}, {viaHTTP: true}, {viaHTTP: true, redis: true}} {
		name := "memq-in-process"
		switch {
		case o.redis:
			name = "redis-http"
		case o.viaHTTP:
			name = "memq-http"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, o)
		})
	}
}

func TestStackSubmitWaitAndHistory(t *testing.T) {
	t.Parallel()
	forBothWirings(t, func(t *testing.T, o stackOpts) {
		s := newStack(t, o)
		var sub native.Submission
		gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, s.Do(t, "POST", "/v1/submissions?wait=true",
			map[string]any{"language": "python", "source": "print(input())", "stdin": "echo me"}), 200), &sub)
		if sub.Status != job.StatusAccepted || sub.Result == nil || sub.Result.Run.Stdout.Text != "echo me" {
			t.Fatalf("wait: %+v", sub)
		}
		var got native.Submission
		gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, s.Do(t, "GET", "/v1/submissions/"+sub.ID, nil), 200), &got)
		if got.Status != job.StatusAccepted {
			t.Fatalf("get: %+v", got)
		}

		gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, s.Do(t, "POST", "/v1/execute",
			map[string]any{"language": "python", "source": "x", "stdin": "two"}), 200), &got)
		if got.Result.Run.Stdout.Text != "two" {
			t.Fatalf("execute: %+v", got)
		}

		// History comes from storage, which consumes the results feed in
		// the background: wait (bounded) until both are there.
		deadline := time.Now().Add(10 * time.Second)
		for {
			var page native.SubmissionList
			gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, s.Do(t, "GET", "/v1/submissions?language=python", nil), 200), &page)
			if len(page.Items) == 2 {
				if page.Items[0].ID != got.ID || page.Items[1].ID != sub.ID {
					t.Fatalf("history not newest first: %+v", page.Items)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("history has %d items", len(page.Items))
			}
			time.Sleep(20 * time.Millisecond)
		}
		var p httpx.Problem
		gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, s.Do(t, "GET", "/v1/submissions?cursor=garbage", nil), 400), &p)
	})
}

func TestStackEventsAndCancel(t *testing.T) {
	t.Parallel()
	forBothWirings(t, func(t *testing.T, o stackOpts) {
		s := newStack(t, o)
		var c native.SubmissionCreated
		gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, s.Do(t, "POST", "/v1/submissions", map[string]any{"language": "python", "source": "hold", "stdin": "x"}), 201), &c)
		resp := s.Do(t, "GET", "/v1/submissions/"+c.ID+"/events", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("events status %d", resp.StatusCode)
		}
		rd := bufio.NewReader(resp.Body)
		var seen []string
		for {
			ev := gatewaytest.ReadEvent(t, rd)
			var sub native.Submission
			_ = json.Unmarshal([]byte(ev.Data), &sub)
			seen = append(seen, ev.Name+":"+string(sub.Status))
			if sub.Status == job.StatusRunning {
				break
			}
			if ev.Name != "status" || sub.Status != job.StatusQueued {
				t.Fatalf("events %v", seen)
			}
		}
		s.release <- struct{}{}
		ev := gatewaytest.ReadEvent(t, rd)
		if ev.Name != "result" || !strings.Contains(ev.Data, `"accepted"`) {
			t.Fatalf("events %v then %+v", seen, ev)
		}

		// Cancel a running submission.
		gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, s.Do(t, "POST", "/v1/submissions", map[string]any{"language": "python", "source": "hold"}), 201), &c)
		ch, err := s.queue.Watch(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for sub := range ch {
			if sub.Status == job.StatusRunning {
				break
			}
		}
		var sub native.Submission
		gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, s.Do(t, "DELETE", "/v1/submissions/"+c.ID, nil), 200), &sub)
		if sub.Status != job.StatusCanceled {
			t.Fatalf("cancel: %+v", sub)
		}
		gatewaytest.WantStatus(t, s.Do(t, "DELETE", "/v1/submissions/"+c.ID, nil), 409)
	})
}

func TestStackCompatibilityAPIs(t *testing.T) {
	t.Parallel()
	forBothWirings(t, func(t *testing.T, o stackOpts) {
		s := newStack(t, o)
		var got map[string]any
		gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, s.Do(t, "POST", "/submissions?wait=true&base64_encoded=true",
			map[string]any{"source_code": gatewaytest.B64("print(input())"), "language_id": 71, "stdin": gatewaytest.B64("judge")}), 201), &got)
		if got["stdout"] != gatewaytest.B64("judge") || got["status"].(map[string]any)["id"].(float64) != 3 {
			t.Fatalf("judge0: %v", got)
		}
		var out piston.Response
		gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, s.Do(t, "POST", "/api/v2/execute", map[string]any{"language": "python", "version": "*",
			"files": []map[string]string{{"content": "print(input())"}}, "stdin": "piston"}), 200), &out)
		if out.Run.Stdout != "piston\n" || out.Run.Code == nil || *out.Run.Code != 0 {
			t.Fatalf("piston: %+v", out)
		}
	})
}

func TestStackQueueFullIs503(t *testing.T) {
	t.Parallel()
	forBothWirings(t, func(t *testing.T, o stackOpts) {
		o.noWorker, o.queueMax = true, 1
		s := newStack(t, o)
		body := map[string]any{"language": "python", "source": "1"}
		gatewaytest.WantStatus(t, s.Do(t, "POST", "/v1/submissions", body), 201)
		resp := s.Do(t, "POST", "/v1/submissions", body)
		gatewaytest.WantStatus(t, resp, http.StatusServiceUnavailable)
		var p httpx.Problem
		gatewaytest.DecodeBody(t, resp, &p)
		if p.Code != "queue_full" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("problem %+v", p)
		}
	})
}

// Redis down is one answer whatever the wiring: 503, Retry-After, a detail
// naming Redis and not its address; accepted again once Redis is back.
func TestStackRedisDownIs503NamingIt(t *testing.T) {
	t.Parallel()
	for _, viaHTTP := range []bool{false, true} {
		t.Run(map[bool]string{false: "in-process", true: "http"}[viaHTTP], func(t *testing.T) {
			t.Parallel()
			rs := testenv.StartRedisServer(t)
			s := newStack(t, stackOpts{viaHTTP: viaHTTP, redisURL: rs.URL})
			body := map[string]any{"language": "python", "source": "print(1)"}
			gatewaytest.WantStatusResp(t, s.Do(t, "POST", "/v1/submissions", body), 201)
			rs.Kill()
			for _, path := range []string{"/v1/submissions", "/v1/submissions/" + job.NewID(time.Now())} {
				method := "POST"
				if path != "/v1/submissions" {
					method = "GET"
				}
				resp := s.Do(t, method, path, body)
				var p httpx.Problem
				gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, resp, 503), &p)
				if resp.Header.Get("Retry-After") == "" || p.Code != "unavailable" || !strings.Contains(p.Detail, "Redis") ||
					strings.Contains(p.Detail, "127.0.0.1") || strings.Contains(p.Title+p.Detail, "redis://") {
					t.Fatalf("%s %s with Redis down: Retry-After %q, problem %+v; want 503 naming Redis, not its address",
						method, path, resp.Header.Get("Retry-After"), p)
				}
			}
			rs.Start()
			deadline := time.Now().Add(20 * time.Second)
			for {
				resp := s.Do(t, "POST", "/v1/submissions", body)
				resp.Body.Close()
				if resp.StatusCode == 201 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("still %d 20 s after Redis came back", resp.StatusCode)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// A repeated POST with the same Idempotency-Key answers the first
// submission with the first answer's status, marked as a replay.
func TestStackReplayedPostIsMarked(t *testing.T) {
	t.Parallel()
	forBothWirings(t, func(t *testing.T, o stackOpts) {
		s := newStack(t, stackOpts{viaHTTP: o.viaHTTP, redis: o.redis, noWorker: true})
		body := map[string]any{"language": "python", "source": "print(1)"}
		var first, again native.SubmissionCreated
		r1 := s.Do(t, "POST", "/v1/submissions", body, "Idempotency-Key", "order-42")
		gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, r1, 201), &first)
		r2 := s.Do(t, "POST", "/v1/submissions", body, "Idempotency-Key", "order-42")
		gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, r2, 201), &again)
		if first.ID != again.ID {
			t.Fatalf("replay got id %s, want the first %s", again.ID, first.ID)
		}
		if got := r1.Header.Get("Idempotent-Replayed"); got != "" {
			t.Fatalf("first answer has Idempotent-Replayed: %q", got)
		}
		if got := r2.Header.Get("Idempotent-Replayed"); got != "true" {
			t.Fatalf("replay has Idempotent-Replayed: %q, want true", got)
		}
		r3 := s.Do(t, "POST", "/v1/submissions", body, "Idempotency-Key", "order-43")
		gatewaytest.WantStatusResp(t, r3, 201)
		if got := r3.Header.Get("Idempotent-Replayed"); got != "" {
			t.Fatalf("a new key's answer has Idempotent-Replayed: %q", got)
		}
	})
}

// A callback whose receiver is down while the gateway restarts is
// delivered, once, when the receiver is back: delivery is driven from the
// queue's callbacks feed, and the restarted gateway (same consumer name)
// takes up what the stopped one held, counting its attempts.
func TestStackCallbackSurvivesGatewayRestart(t *testing.T) {
	t.Parallel()
	var up atomic.Bool
	var delivered atomic.Int32
	got := make(chan []byte, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		delivered.Add(1)
		got <- body
	}))
	t.Cleanup(hook.Close)
	s := newStack(t, stackOpts{viaHTTP: true, redis: true, gateway: func(c *gateway.Config) {
		c.CallbackAllowPrivate = true
		c.CallbackConsumer = "gw-restart"
		c.CallbackAttempts = 1000
		c.CallbackBackoff = 20 * time.Millisecond
		c.CallbackMaxBackoff = 100 * time.Millisecond
	}})
	var c native.SubmissionCreated
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, s.Do(t, "POST", "/v1/submissions", map[string]any{
		"language": "python", "source": "x", "stdin": "called back", "callback_url": hook.URL + "/hook"}), 201), &c)
	pending := waitSubmission(t, s.Bundle, c.ID, func(sub native.Submission) bool {
		return sub.Callback != nil && sub.Callback.Attempts >= 2
	})
	if pending.Callback.Status != job.CallbackPending || pending.Callback.LastError == "" {
		t.Fatalf("callback state while the receiver is down: %+v, want pending with the last error", pending.Callback)
	}
	s.Stop() // the gateway goes away with the callback undelivered

	gw, err := gateway.New(s.gwCfg, gatewaytest.Logger(t), s.gwDeps)
	if err != nil {
		t.Fatal(err)
	}
	b := gatewaytest.Serve(t, &gatewaytest.Bundle{}, gw)
	up.Store(true)
	var sub native.Submission
	if err := json.Unmarshal(gatewaytest.WaitFor(t, got), &sub); err != nil {
		t.Fatal(err)
	}
	if sub.ID != c.ID || sub.Status != job.StatusAccepted || sub.Result.Run.Stdout.Text != "called back" {
		t.Fatalf("callback body %+v, want the submission with its own output", sub)
	}
	done := waitSubmission(t, b, c.ID, func(sub native.Submission) bool {
		return sub.Callback != nil && sub.Callback.Status == job.CallbackDelivered
	})
	if done.Callback.Attempts <= pending.Callback.Attempts {
		t.Fatalf("attempts %d after the restart, want more than the %d made before", done.Callback.Attempts, pending.Callback.Attempts)
	}
	time.Sleep(300 * time.Millisecond) // a duplicate delivery would come within its backoff
	if n := delivered.Load(); n != 1 {
		t.Fatalf("receiver got %d deliveries, want 1", n)
	}
}

// waitSubmission polls GET /v1/submissions/{id} until ok holds (10 s).
func waitSubmission(t *testing.T, b *gatewaytest.Bundle, id string, ok func(native.Submission) bool) native.Submission {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var sub native.Submission
		gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/v1/submissions/"+id, nil), 200), &sub)
		if ok(sub) {
			return sub
		}
		if time.Now().After(deadline) {
			t.Fatalf("submission %s never got there: %+v (callback %+v)", id, sub, sub.Callback)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
