package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
)

func TestPistonExecute(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.q.onEnqueue = func(id string) {
		b.q.set(id, job.StatusRuntimeError, &job.Result{Status: job.StatusRuntimeError,
			Run: &job.Step{Verdict: job.StatusRuntimeError, Stdout: job.NewOutput([]byte("out\n"), false),
				Stderr: job.NewOutput([]byte("err\n"), false), ExitCode: 3, CPUTimeMs: 5, WallTimeMs: 9, MemoryKB: 100}})
	}
	resp := b.do(t, "POST", "/api/v2/execute", map[string]any{
		"language": "py", "version": "3.x-ignored-by-star", "files": []any{}, "stdin": "",
	})
	wantStatus(t, resp, http.StatusBadRequest)
	var msg map[string]string
	decodeBody(t, resp, &msg)
	if !strings.Contains(msg["message"], "runtime is unknown") {
		t.Fatalf("message %v", msg)
	}

	resp = b.do(t, "POST", "/api/v2/execute", map[string]any{
		"language": "python", "version": "*",
		"files": []map[string]string{{"name": "prog.py", "content": "import sys"}, {"name": "lib.py", "content": "6869", "encoding": "hex"}},
		"stdin": "in", "args": []string{"1"}, "run_timeout": 3000, "run_memory_limit": 64 << 20, "compile_timeout": 10000,
		"unknown_key": true,
	})
	wantStatus(t, resp, 200)
	var out PistonResponse
	decodeBody(t, resp, &out)
	if out.Language != "python" || out.Version == "" || out.Compile != nil {
		t.Fatalf("response %+v", out)
	}
	if r := out.Run; r.Stdout != "out\n" || r.Stderr != "err\n" || r.Output != "out\nerr\n" || r.Code == nil || *r.Code != 3 ||
		r.Signal != nil || r.Status == nil || *r.Status != "RE" || r.Memory != 100*1024 {
		t.Fatalf("run %+v", r)
	}
	req := b.q.last()
	if req.Files[0].Name != "main.py" || req.Files[1].Encoding != job.EncodingBase64 || req.Limits.WallTimeMs != 3000 ||
		req.Limits.MemoryKB != 64<<10 || req.Stdin != "in" {
		t.Fatalf("queued %+v", req)
	}
	if c, _ := req.Files[1].Bytes(); string(c) != "hi" {
		t.Fatalf("hex file %q", c)
	}
}

func TestPistonTimeoutCancels(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config, _ *Deps) { c.MaxWait = time.Millisecond })
	resp := b.do(t, "POST", "/api/v2/execute", map[string]any{"language": "python", "version": "*",
		"files": []map[string]string{{"content": "while True: pass"}}})
	wantStatus(t, resp, http.StatusGatewayTimeout)
	if b.q.count() != 1 {
		t.Fatalf("%d queued", b.q.count())
	}
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	for _, sub := range b.q.subs {
		if sub.Status != job.StatusCanceled {
			t.Fatalf("timed-out Piston run left %s", sub.Status)
		}
	}
}

func TestPistonRuntimesAndStages(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var rts []PistonRuntime
	decodeBody(t, wantStatusResp(t, b.do(t, "GET", "/api/v2/runtimes", nil), 200), &rts)
	found := false
	for _, r := range rts {
		found = found || (r.Language == "python" && r.Version != "" && r.Aliases != nil)
	}
	if !found {
		t.Fatalf("runtimes %+v", rts)
	}
	// A compile error reports the compile stage.
	out := toPiston(job.Submission{Status: job.StatusCompilationError, Result: &job.Result{Status: job.StatusCompilationError,
		Compile: &job.Step{Verdict: job.StatusCompilationError, Stderr: job.NewOutput([]byte("error: x"), false), ExitCode: 1}}}, "c", "12")
	if out.Compile == nil || out.Compile.Stderr != "error: x" || *out.Compile.Status != "RE" || out.Run.Status == nil {
		t.Fatalf("compile error %+v", out)
	}
	out = toPiston(job.Submission{Status: job.StatusTimeLimit, Result: &job.Result{Status: job.StatusTimeLimit,
		Run: &job.Step{Verdict: job.StatusTimeLimit, Signal: "SIGKILL"}}}, "c", "12")
	if *out.Run.Status != "TO" || *out.Run.Signal != "SIGKILL" || out.Run.Code != nil {
		t.Fatalf("timeout %+v", out.Run)
	}
}
