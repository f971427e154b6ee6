package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/execbox/app/pkg/testenv"
)

// role describes how to start one role as its own process.
type role struct {
	name string
	args []string
	env  []string
}

// startRole starts r on a free port and waits until /health answers.
func startRole(t *testing.T, bin string, r role) (*testenv.Proc, string) {
	t.Helper()
	port := testenv.FreePort(t)
	args := append([]string{r.name, "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--log-format", "json"}, r.args...)
	p := testenv.StartProc(t, bin, r.env, args...)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testenv.WaitHTTP(t, base+"/health", http.StatusOK, 30*time.Second)
	return p, base
}

type readyBody struct {
	Status  string            `json:"status"`
	Checks  map[string]string `json:"checks"`
	Failing []string          `json:"failing"`
}

func getReady(t *testing.T, base string) (int, readyBody) {
	t.Helper()
	resp, err := http.Get(base + "/ready")
	if err != nil {
		t.Fatalf("GET /ready: %v", err)
	}
	defer resp.Body.Close()
	var rb readyBody
	if err := json.NewDecoder(resp.Body).Decode(&rb); err != nil {
		t.Fatalf("/ready body: %v", err)
	}
	return resp.StatusCode, rb
}

// waitReady polls /ready until it answers want (readiness may lag /health
// while a role prepares, e.g. the executor filling its agent volume).
func waitReady(t *testing.T, base string, want int) readyBody {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, rb := getReady(t, base)
		if code == want {
			return rb
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ready = %d %+v, want %d", code, rb, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func checkMetrics(t *testing.T, base string) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics = %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	for _, want := range []string{"go_goroutines", "process_resident_memory_bytes", "execbox_http_requests_total"} {
		if _, ok := families[want]; !ok {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// stopWithin sends SIGTERM and expects exit code 0 within d.
func stopWithin(t *testing.T, p *testenv.Proc, d time.Duration) {
	t.Helper()
	p.Signal(syscall.SIGTERM)
	code, err := p.Wait(d)
	if err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	if code != 0 {
		t.Fatalf("after SIGTERM: exit code %d, want 0", code)
	}
}

// TestRolesAsProcesses starts each role as its own process against the real
// services, then checks readiness, metrics and a clean SIGTERM.
func TestRolesAsProcesses(t *testing.T) {
	bin := testenv.BuildBinary(t)
	redisURL, _ := testenv.Redis(t)
	dbURL := testenv.Postgres(t)
	runtimes := testenv.Runtimes(t)
	testenv.Docker(t)
	env := []string{"EXECBOX_LOG_LEVEL=debug"}

	queueP, queueURL := startRole(t, bin, role{name: "queue", args: []string{"--redis-url", redisURL}, env: env})
	storageP, storageURL := startRole(t, bin, role{name: "storage", args: []string{"--database-url", dbURL, "--redis-url", redisURL}, env: env})
	execP, execURL := startRole(t, bin, role{name: "executor", args: []string{"--runtimes", runtimes}, env: env})
	workerP, workerURL := startRole(t, bin, role{name: "worker", args: []string{"--queue-url", queueURL, "--executor-urls", execURL}, env: env})
	gwP, gwURL := startRole(t, bin, role{name: "gateway", args: []string{"--queue-url", queueURL, "--storage-url", storageURL, "--runtimes", runtimes}, env: env})

	procs := []struct {
		name string
		p    *testenv.Proc
		url  string
	}{
		{"gateway", gwP, gwURL}, {"worker", workerP, workerURL}, {"executor", execP, execURL},
		{"storage", storageP, storageURL}, {"queue", queueP, queueURL},
	}
	for _, pr := range procs {
		t.Run(pr.name, func(t *testing.T) {
			waitReady(t, pr.url, http.StatusOK)
			checkMetrics(t, pr.url)
			resp, err := http.Get(pr.url + "/health")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if id := resp.Header.Get("X-Request-Id"); id == "" {
				t.Error("response lacks X-Request-Id")
			}
		})
	}
	// Stop in reverse dependency order, as an orchestrator would.
	for _, pr := range procs {
		stopWithin(t, pr.p, 5*time.Second)
	}
}

// TestReadyNamesTheFailingDependency points each role at a dead address and
// expects /ready to answer 503 naming that dependency, while /health (which
// touches nothing) stays 200.
func TestReadyNamesTheFailingDependency(t *testing.T) {
	bin := testenv.BuildBinary(t)
	redisURL, _ := testenv.Redis(t)
	dbURL := testenv.Postgres(t)
	runtimes := testenv.Runtimes(t)
	deadPort := testenv.FreePort(t) // nothing listens there
	dead := fmt.Sprintf("127.0.0.1:%d", deadPort)

	for _, tc := range []struct {
		role    role
		failing string
	}{
		{role{name: "queue", args: []string{"--redis-url", "redis://" + dead + "/0"}}, "redis"},
		{role{name: "storage", args: []string{"--database-url", "postgres://postgres@" + dead + "/postgres?sslmode=disable&connect_timeout=1", "--redis-url", redisURL}}, "postgres"},
		{role{name: "storage", args: []string{"--database-url", dbURL, "--redis-url", "redis://" + dead + "/0"}}, "redis"},
		{role{name: "executor", args: []string{"--runtimes", runtimes, "--docker-host", "tcp://" + dead}}, "docker"},
		{role{name: "worker", args: []string{"--queue-url", "http://" + dead, "--executor-urls", "http://" + dead}}, "queue"},
		{role{name: "gateway", args: []string{"--queue-url", "http://" + dead, "--storage-url", "http://" + dead, "--runtimes", runtimes}}, "queue"},
		{role{name: "all", args: []string{"--runtimes", runtimes, "--docker-host", "tcp://" + dead, "--data-dir", t.TempDir()}}, "docker"},
	} {
		t.Run(tc.role.name+"/"+tc.failing, func(t *testing.T) {
			t.Parallel()
			p, base := startRole(t, bin, tc.role)
			// Readiness may first fail for another reason (still starting);
			// wait until it names the dead dependency.
			deadline := time.Now().Add(30 * time.Second)
			for {
				code, rb := getReady(t, base)
				if code == http.StatusServiceUnavailable && names(rb.Failing, tc.failing) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/ready = %d, failing %v, want 503 naming %q (checks %v)", code, rb.Failing, tc.failing, rb.Checks)
				}
				time.Sleep(100 * time.Millisecond)
			}
			resp, err := http.Get(base + "/health")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/health = %s while a dependency is down, want 200 (liveness touches no dependency)", resp.Status)
			}
			stopWithin(t, p, 5*time.Second)
		})
	}
}

// names reports whether one of failing starts with dep.
func names(failing []string, dep string) bool {
	for _, f := range failing {
		if strings.HasPrefix(f, dep) {
			return true
		}
	}
	return false
}

// TestAllEmbedded runs the whole service in one process on its embedded
// defaults (in-process queue, SQLite store) against the real Docker Engine.
func TestAllEmbedded(t *testing.T) {
	bin := testenv.BuildBinary(t)
	runtimes := testenv.Runtimes(t)
	testenv.Docker(t)
	p, base := startRole(t, bin, role{name: "all", args: []string{"--runtimes", runtimes, "--data-dir", t.TempDir()}})
	waitReady(t, base, http.StatusOK)
	checkMetrics(t, base)
	resp, err := http.Get(base + "/v1/languages")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "python") {
		t.Fatalf("/v1/languages = %s %s", resp.Status, b)
	}
	stopWithin(t, p, 5*time.Second)
}
