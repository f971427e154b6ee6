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
		"language": "py", "version": "4.x", "files": []any{}, "stdin": "",
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
	if req.Files[0].Name != "prog.py" || req.Files[1].Encoding != job.EncodingBase64 || req.Limits.WallTimeMs != 3000 ||
		req.Limits.MemoryKB != 64<<10 || req.Stdin != "in\n" || req.CompileLimits.WallTimeMs != 10000 {
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

// TestPistonRequestErrors walks Piston's documented request fields: each
// invalid one is answered 400 with Piston's message naming it, never a Go
// type or an internal limit name.
func TestPistonRequestErrors(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	files := []map[string]any{{"content": "print(1)"}}
	for _, tc := range []struct {
		name string
		body any
		want string
	}{
		{"no language", map[string]any{"version": "*", "files": files}, "language is required as a string"},
		{"language number", map[string]any{"language": 3, "version": "*", "files": files}, "language is required as a string"},
		{"no version", map[string]any{"language": "python", "files": files}, "version is required as a string"},
		{"files not array", map[string]any{"language": "python", "version": "*", "files": "x"}, "files is required as an array"},
		{"content missing", map[string]any{"language": "python", "version": "*", "files": []map[string]any{{"name": "a"}}}, "files[0].content is required as a string"},
		{"content number", map[string]any{"language": "python", "version": "*", "files": []map[string]any{{"content": 1}}}, "files[0].content is required as a string"},
		{"bad encoding", map[string]any{"language": "python", "version": "*", "files": []map[string]any{{"content": "", "encoding": "rot13"}}}, "files[0].encoding must be utf8, base64 or hex"},
		{"base64 only", map[string]any{"language": "python", "version": "*", "files": []map[string]any{{"content": "aGk=", "encoding": "base64"}}}, "files must include at least one utf8 encoded file"},
		{"unknown runtime", map[string]any{"language": "python", "version": "2.x", "files": files}, "python-2.x runtime is unknown"},
		{"bad range", map[string]any{"language": "python", "version": "!!", "files": files}, "python-!! runtime is unknown"},
		{"args", map[string]any{"language": "python", "version": "*", "files": files, "args": []any{1}}, "args must be an array of strings"},
		{"stdin", map[string]any{"language": "python", "version": "*", "files": files, "stdin": 5}, "stdin must be a string"},
		{"timeout string", map[string]any{"language": "python", "version": "*", "files": files, "run_timeout": "5"}, "If specified, run_timeout must be a number"},
		{"timeout fraction", map[string]any{"language": "python", "version": "*", "files": files, "run_timeout": 1.5}, "run_timeout must be a whole number"},
		{"run timeout past", map[string]any{"language": "python", "version": "*", "files": files, "run_timeout": 30001}, "run_timeout cannot exceed the configured limit of 30000"},
		{"compile timeout past", map[string]any{"language": "python", "version": "*", "files": files, "compile_timeout": 1 << 40}, "compile_timeout cannot exceed the configured limit of 30000"},
		{"compile cpu past", map[string]any{"language": "python", "version": "*", "files": files, "compile_cpu_time": 15001}, "compile_cpu_time cannot exceed the configured limit of 15000"},
		{"memory huge", map[string]any{"language": "python", "version": "*", "files": files, "run_memory_limit": 1e30}, "run_memory_limit cannot exceed the configured limit of 1073741824"},
		{"memory past int64", `{"language": "python", "version": "*", "files": [{"content": ""}], "compile_memory_limit": 99999999999999999999999}`, "compile_memory_limit cannot exceed the configured limit of 1073741824"},
		{"negative", map[string]any{"language": "python", "version": "*", "files": files, "run_cpu_time": -5}, "run_cpu_time must be non-negative"},
		{"negative memory", map[string]any{"language": "python", "version": "*", "files": files, "run_memory_limit": -2}, "run_memory_limit must be non-negative"},
		{"not json", "language=python", "invalid character"},
		{"not an object", `[1]`, "request body must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.Do(t, "POST", "/api/v2/execute", tc.body)
			gatewaytest.WantStatus(t, resp, http.StatusBadRequest)
			var msg map[string]string
			gatewaytest.DecodeBody(t, resp, &msg)
			if !strings.Contains(msg["message"], tc.want) {
				t.Fatalf("message %q, want %q", msg["message"], tc.want)
			}
			for _, leak := range []string{"piston.", "[]", "limits.", "int64", "string"} {
				if leak == "string" && strings.Contains(tc.want, "string") {
					continue
				}
				if strings.Contains(msg["message"], leak) {
					t.Fatalf("message %q leaks %q", msg["message"], leak)
				}
			}
		})
	}
	if b.Q.Count() != 0 {
		t.Fatalf("%d queued", b.Q.Count())
	}
}

// TestPistonSemverAndContentType: Piston's version ranges pick the highest
// match, and a JSON body labelled text/plain or unlabelled (what the npm
// piston-client sends) is accepted while other media types are not.
func TestPistonSemverAndContentType(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	b.Q.OnEnqueue(func(id string) {
		b.Q.CompleteWith(id, job.Result{Status: job.StatusAccepted, Run: &job.Step{Verdict: job.StatusAccepted}})
	})
	var rts []piston.Runtime
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/api/v2/runtimes", nil), 200), &rts)
	var pyVer string
	for _, r := range rts {
		if r.Language == "python" {
			pyVer = r.Version
		}
	}
	major := strings.SplitN(pyVer, ".", 2)[0]
	minor := strings.Join(strings.SplitN(pyVer, ".", 3)[:2], ".")
	for _, sel := range []string{"*", pyVer, major, major + ".x", minor + ".x", "^" + minor + ".0", "~" + minor, ">=" + major + ".0.0",
		"<1 || " + major + ".x", ">=2.7 <" + major + "9"} {
		resp := b.Do(t, "POST", "/api/v2/execute", map[string]any{"language": "python", "version": sel,
			"files": []map[string]string{{"content": "print(1)"}}})
		gatewaytest.WantStatus(t, resp, 200)
		var out piston.Response
		gatewaytest.DecodeBody(t, resp, &out)
		if out.Language != "python" || out.Version != pyVer {
			t.Errorf("version %q ran %s-%s", sel, out.Language, out.Version)
		}
	}
	body := `{"language": "py", "version": "*", "files": [{"content": "print(1)"}]}`
	for _, tc := range []struct {
		ct   string
		want int
	}{
		{"", 200}, {"text/plain;charset=UTF-8", 200}, {"application/json", 200},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
	} {
		resp := b.Do(t, "POST", "/api/v2/execute", body, "Content-Type", tc.ct)
		gatewaytest.WantStatus(t, resp, tc.want)
		resp.Body.Close()
	}
	var pkgs []piston.Package
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/api/v2/packages", nil), 200), &pkgs)
	if len(pkgs) != len(rts) || !pkgs[0].Installed || pkgs[0].LanguageVersion == "" {
		t.Fatalf("packages %+v", pkgs)
	}
}

// TestPistonFiles: the entry point is the first utf8 file under the name
// the client sent (base64 and hex files are data, as in Piston), a file
// without a name is named as Piston names it, and a request of data files
// only is refused with Piston's message.
func TestPistonFiles(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	b.Q.OnEnqueue(func(id string) { b.Q.Finish(id, job.StatusAccepted, "") })
	for _, tc := range []struct {
		name  string
		files []map[string]string
		want  string
	}{
		{"named entry kept", []map[string]string{{"name": "solution.py", "content": "1"}, {"name": "lib.py", "content": "2"}}, "solution.py,lib.py"},
		{"unnamed entry", []map[string]string{{"content": "1"}, {"content": "2"}}, "main.py,file1.code"},
		{"data file first", []map[string]string{{"name": "data.bin", "content": "aGk=", "encoding": "base64"}, {"name": "app.py", "content": "1"}}, "app.py,data.bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gatewaytest.WantStatus(t, b.Do(t, "POST", "/api/v2/execute", map[string]any{"language": "python", "version": "*", "files": tc.files}), 200)
			var names []string
			for _, f := range b.Q.Last().Files {
				names = append(names, f.Name)
			}
			if got := strings.Join(names, ","); got != tc.want {
				t.Fatalf("files %s, want %s", got, tc.want)
			}
			if got := b.Q.Last().Stdin; got != "\n" {
				t.Fatalf("stdin %q: Piston gives a missing stdin a newline", got)
			}
		})
	}
	resp := b.Do(t, "POST", "/api/v2/execute", map[string]any{"language": "python", "version": "*",
		"files": []map[string]string{{"name": "a", "content": "aGk=", "encoding": "base64"}}})
	gatewaytest.WantStatus(t, resp, http.StatusBadRequest)
	var msg map[string]string
	gatewaytest.DecodeBody(t, resp, &msg)
	if msg["message"] != "files must include at least one utf8 encoded file" {
		t.Fatalf("message %v", msg)
	}
	// Piston's "file" runtime runs a binary: base64 alone is fine.
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/api/v2/execute", map[string]any{"language": "file", "version": "*",
		"files": []map[string]string{{"name": "a.out", "content": "f0VMRg==", "encoding": "base64"}}}), 200)
}
