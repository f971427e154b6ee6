package executor_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execbox/app/pkg/catalog"
	pkgexec "github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/executor/executorhttp"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/sandbox"
	"github.com/execbox/app/pkg/testenv"
	"github.com/execbox/app/roles/executor"
)

func instance() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "test-" + hex.EncodeToString(b[:])
}

func src(name, content string) []job.File { return []job.File{{Name: name, Content: content}} }

// TestAPIRoundTrip runs the role's HTTP API in an httptest server in front
// of the real Docker driver and drives it through the Client.
func TestAPIRoundTrip(t *testing.T) {
	t.Parallel()
	testenv.Docker(t)
	role, err := executor.New(executor.Config{
		RuntimesFile: testenv.Runtimes(t), InternalToken: "tok",
		Sandbox: sandbox.Config{AgentBinary: testenv.BuildBinary(t), Instance: instance(), Slots: 1, CPUs: 1},
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	work := make(chan error, 1)
	go func() { work <- role.Work(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-work; err != nil {
			t.Errorf("Work: %v", err)
		}
	})
	srv := httptest.NewServer(role.Handler())
	t.Cleanup(srv.Close)
	cl := executorhttp.NewClient(srv.URL, nil).WithToken("tok")
	for deadline := time.Now().Add(60 * time.Second); role.Driver().Ready(ctx) != nil; {
		if time.Now().After(deadline) {
			t.Fatal("driver never ready")
		}
		time.Sleep(20 * time.Millisecond)
	}

	res, err := cl.Execute(ctx, job.Job{ID: job.NewID(time.Now()), Request: job.Request{Language: "python", Files: src("main.py", "print(input()[::-1])"), Stdin: "olleh"}})
	if err != nil || res.Status != job.StatusAccepted || res.Run.Stdout.Text != "hello\n" || res.Executor == "" {
		t.Fatalf("Execute: %v %+v", err, res)
	}

	langs, err := cl.Languages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, l := range langs {
		present[l.ID] = l.Present
	}
	if !present["python"] || !present["c"] {
		t.Errorf("languages: %+v", langs)
	}

	// One slot: a long job makes the next one busy (429 + Retry-After);
	// Cancel ends the long one as canceled.
	long := job.Job{ID: job.NewID(time.Now()), Request: job.Request{Language: "bash", Files: src("main.sh", "sleep 600"), Limits: job.Limits{WallTimeMs: 60000}}}
	var wg sync.WaitGroup
	wg.Add(1)
	var longRes job.Result
	var longErr error
	go func() { defer wg.Done(); longRes, longErr = cl.Execute(ctx, long) }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := cl.Capacity(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Busy == 1 && c.Slots == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("capacity never busy: %+v", c)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err = cl.Execute(ctx, job.Job{ID: job.NewID(time.Now()), Request: job.Request{Language: "bash", Files: src("main.sh", "true")}})
	var busy *pkgexec.BusyError
	if !errors.As(err, &busy) || !errors.Is(err, pkgexec.ErrBusy) || busy.RetryAfter < time.Second {
		t.Errorf("second job: %v, want BusyError with Retry-After", err)
	}
	// Let the long job reach its sandbox before cancelling it.
	time.Sleep(500 * time.Millisecond)
	if err := cl.Cancel(ctx, long.ID); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if longErr != nil || longRes.Status != job.StatusCanceled {
		t.Errorf("canceled job: %v %+v", longErr, longRes)
	}

	// The token guards the API.
	_, err = executorhttp.NewClient(srv.URL, nil).Capacity(ctx)
	var p *httpx.Problem
	if !errors.As(err, &p) || p.Status != http.StatusUnauthorized {
		t.Errorf("no token: %v, want 401", err)
	}
}

// TestProcessFloodRSS runs "app executor" as a real process and floods it
// with 100 MB outputs: the executor's peak RSS stays bounded.
func TestProcessFloodRSS(t *testing.T) {
	t.Parallel()
	testenv.Docker(t)
	bin := testenv.BuildBinary(t)
	port := testenv.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	p := testenv.StartProc(t, bin, []string{"EXECBOX_FAKE_SECRET=hunter2"}, "executor", "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--runtimes", testenv.Runtimes(t), "--instance", instance(), "--slots", "4", "--pool-size", "0", "--log-format", "json")
	testenv.WaitHTTP(t, base+"/ready", http.StatusOK, 60*time.Second)
	cl := executorhttp.NewClient(base, nil)
	ctx := context.Background()
	flood := map[string]string{
		"stdout": "import sys\nc = 'x' * (1 << 20)\nfor _ in range(100): sys.stdout.write(c)\n",
		"stderr": "import sys\nc = 'e' * (1 << 20)\nfor _ in range(100): sys.stderr.write(c)\n",
	}
	var wg sync.WaitGroup
	for i := range 8 {
		name := []string{"stdout", "stderr"}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := cl.Execute(ctx, job.Job{ID: job.NewID(time.Now()), Request: job.Request{Language: "python", Files: src("main.py", flood[name])}})
			for errors.Is(err, pkgexec.ErrBusy) {
				time.Sleep(100 * time.Millisecond)
				res, err = cl.Execute(ctx, job.Job{ID: job.NewID(time.Now()), Request: job.Request{Language: "python", Files: src("main.py", flood[name])}})
			}
			if err != nil || res.Status != job.StatusOutputLimit {
				t.Errorf("%s flood: %v %s %s", name, err, res.Status, res.Message)
			}
		}()
	}
	wg.Wait()
	hwm := vmHWM(t, p.Pid())
	t.Logf("executor peak RSS after 8 x 100 MB floods: %d KB", hwm)
	if hwm > 64<<10 {
		t.Errorf("executor peak RSS %d KB, want under 64 MB", hwm)
	}
}

func vmHWM(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// The executor runs the catalog it is given (app all parses the runtimes
// file once for executor and gateway) and reads RuntimesFile only without one.
func TestCatalogSource(t *testing.T) {
	t.Parallel()
	testenv.Docker(t)
	runtimes := testenv.Runtimes(t)
	fromFile, err := catalog.Load(runtimes)
	if err != nil {
		t.Fatal(err)
	}
	given, err := catalog.New([]catalog.Language{{
		ID: "only", Name: "Only", Version: "1", Image: "execbox-local/none:1", SourceFile: "main.sh",
		Run: []string{"sh", "main.sh"}, Limits: fromFile.All()[0].Limits,
	}})
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.json")
	ids := func(c *catalog.Catalog) []string {
		var out []string
		for _, l := range c.All() {
			out = append(out, l.ID)
		}
		return out
	}
	tests := []struct {
		name    string
		cfg     executor.Config
		want    []string
		wantErr bool
	}{
		{"embedded", executor.Config{}, ids(catalog.Default()), false},
		{"runtimes file", executor.Config{RuntimesFile: runtimes}, ids(fromFile), false},
		{"given catalog, file not read", executor.Config{Catalog: given, RuntimesFile: missing}, []string{"only"}, false},
		{"missing file", executor.Config{RuntimesFile: missing}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Sandbox.Instance = instance()
			role, err := executor.New(tc.cfg, slog.New(slog.DiscardHandler))
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "runtimes file") {
					t.Fatalf("New = %v, want a runtimes file error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range role.Driver().Languages(context.Background()) {
				got = append(got, l.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("languages = %q, want %q", got, tc.want)
			}
		})
	}
}
