package piston_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway"
	"github.com/execbox/app/roles/gateway/internal/gatewaytest"
	"github.com/execbox/app/roles/gateway/piston"
)

func TestPistonExecute(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	b.Q.OnEnqueue(func(id string) {
		b.Q.CompleteWith(id, job.Result{Status: job.StatusRuntimeError,
			Run: &job.Step{Verdict: job.StatusRuntimeError, Stdout: job.NewOutput([]byte("out\n"), false),
				Stderr: job.NewOutput([]byte("err\n"), false), ExitCode: 3, CPUTimeMs: 5, WallTimeMs: 9, MemoryKB: 100}})
	})
	resp := b.Do(t, "POST", "/api/v2/execute", map[string]any{
		"language": "py", "version": "3.x-ignored-by-star", "files": []any{}, "stdin": "",
	})
	gatewaytest.WantStatus(t, resp, http.StatusBadRequest)
	var msg map[string]string
	gatewaytest.DecodeBody(t, resp, &msg)
	if !strings.Contains(msg["message"], "runtime is unknown") {
		t.Fatalf("message %v", msg)
	}

	resp = b.Do(t, "POST", "/api/v2/execute", map[string]any{
		"language": "python", "version": "*",
		"files": []map[string]string{{"name": "prog.py", "content": "import sys"}, {"name": "lib.py", "content": "6869", "encoding": "hex"}},
		"stdin": "in", "args": []string{"1"}, "run_timeout": 3000, "run_memory_limit": 64 << 20, "compile_timeout": 10000,
		"unknown_key": true,
	})
	gatewaytest.WantStatus(t, resp, 200)
	var out piston.Response
	gatewaytest.DecodeBody(t, resp, &out)
	if out.Language != "python" || out.Version == "" || out.Compile != nil {
		t.Fatalf("response %+v", out)
	}
	if r := out.Run; r.Stdout != "out\n" || r.Stderr != "err\n" || r.Output != "out\nerr\n" || r.Code == nil || *r.Code != 3 ||
		r.Signal != nil || r.Status == nil || *r.Status != "RE" || r.Memory != 100*1024 {
		t.Fatalf("run %+v", r)
	}
	req := b.Q.Last()
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
	b := gatewaytest.Setup(t, func(c *gateway.Config, _ *gateway.Deps) { c.MaxWait = time.Millisecond })
	resp := b.Do(t, "POST", "/api/v2/execute", map[string]any{"language": "python", "version": "*",
		"files": []map[string]string{{"content": "while True: pass"}}})
	gatewaytest.WantStatus(t, resp, http.StatusGatewayTimeout)
	if b.Q.Count() != 1 {
		t.Fatalf("%d queued", b.Q.Count())
	}
	for _, id := range b.Q.IDs() {
		sub, err := b.Q.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if sub.Status != job.StatusCanceled {
			t.Fatalf("timed-out Piston run left %s", sub.Status)
		}
	}
}

func TestPistonRuntimesAndStages(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	var rts []piston.Runtime
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/api/v2/runtimes", nil), 200), &rts)
	found := false
	for _, r := range rts {
		found = found || (r.Language == "python" && r.Version != "" && r.Aliases != nil)
	}
	if !found {
		t.Fatalf("runtimes %+v", rts)
	}
}
