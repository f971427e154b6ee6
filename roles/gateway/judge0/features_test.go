package judge0_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway/internal/gatewaytest"
	"github.com/execbox/app/roles/gateway/judge0"
)

type zipEntry struct {
	name string
	body string
	mode os.FileMode
}

func zipB64(t *testing.T, entries ...zipEntry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, e.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func create(t *testing.T, b *gatewaytest.Bundle, body map[string]any) string {
	t.Helper()
	var tok judge0.Token
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "POST", "/submissions", body), 201), &tok)
	return tok.Token
}

func get(t *testing.T, b *gatewaytest.Bundle, token, query string) map[string]any {
	t.Helper()
	var got map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/submissions/"+token+query, nil), 200), &got)
	return got
}

// TestJudge0RequestAttributes: the configuration variables Judge0 documents
// become the executor's limits, and fields=* answers every attribute.
func TestJudge0RequestAttributes(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	tok := create(t, b, map[string]any{"source_code": "print(1)", "language_id": 71, "stdin": "in", "expected_output": "1",
		"cpu_time_limit": 1, "cpu_extra_time": 0.5, "wall_time_limit": 3, "memory_limit": 65536, "stack_limit": 8192,
		"max_processes_and_or_threads": 8, "max_file_size": 100, "number_of_runs": 3, "redirect_stderr_to_stdout": true,
		"enable_per_process_and_thread_time_limit": false, "enable_network": false})
	req := b.Q.Last()
	want := job.Limits{CPUTimeMs: 1500, WallTimeMs: 3000, MemoryKB: 65536, StackKB: 8192, Processes: 8, OutputBytes: 100 << 10, FileKB: 100}
	if req.Limits != want {
		t.Errorf("limits %+v, want %+v", req.Limits, want)
	}
	if c := req.Compat; c.Runs != 3 || c.CPUTimeMs != 1000 || c.CPUExtraMs != 500 || !c.RedirectStderr {
		t.Errorf("compat %+v", c)
	}
	if len(req.Tests) != 3 || req.Tests[2].Stdin != "in" || *req.Tests[2].ExpectedOutput != "1" || req.Stdin != "" {
		t.Errorf("number_of_runs=3: tests %+v, stdin %q", req.Tests, req.Stdin)
	}
	all := get(t, b, tok, "?fields=*")
	for field, v := range map[string]any{"number_of_runs": 3.0, "cpu_time_limit": 1.0, "cpu_extra_time": 0.5, "wall_time_limit": 3.0,
		"memory_limit": 65536.0, "stack_limit": 8192.0, "max_processes_and_or_threads": 8.0, "max_file_size": 100.0,
		"redirect_stderr_to_stdout": true, "enable_network": false, "enable_per_process_and_thread_time_limit": false,
		"enable_per_process_and_thread_memory_limit": false, "additional_files": nil, "queue_host": nil} {
		if got, ok := all[field]; !ok || got != v {
			t.Errorf("fields=* %s = %v (present %v), want %v", field, got, ok, v)
		}
	}
	// Judge0's 33 documented attributes plus the ones its serializer adds.
	for _, f := range []string{"source_code", "language_id", "compiler_options", "command_line_arguments", "stdin",
		"expected_output", "callback_url", "stdout", "stderr", "compile_output", "message", "exit_code", "exit_signal",
		"status", "created_at", "finished_at", "token", "time", "wall_time", "memory", "language", "status_id",
		"queued_at", "started_at", "updated_at", "execution_host"} {
		if _, ok := all[f]; !ok {
			t.Errorf("fields=* lacks %s", f)
		}
	}
	if l, _ := all["language"].(map[string]any); l["id"] != 71.0 || !strings.HasPrefix(l["name"].(string), "Python") {
		t.Errorf("language %v", all["language"])
	}
	if len(get(t, b, tok, "?fields=stack_limit,number_of_runs")) != 2 {
		t.Errorf("new attributes are not selectable by name")
	}
}

// TestJudge0NumberOfRuns: the answer is the first run that was not accepted
// (Judge0 stops there), else the last, with time and memory averaged over
// the runs made.
func TestJudge0NumberOfRuns(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	step := func(v job.Status, out string, cpu float64, mem int64) job.Step {
		return job.Step{Verdict: v, Stdout: job.NewOutput([]byte(out), false), CPUTimeMs: cpu, WallTimeMs: cpu * 2, MemoryKB: mem}
	}
	tok := create(t, b, map[string]any{"source_code": "x", "language_id": 71, "number_of_runs": 3})
	runs := []job.Step{step(job.StatusAccepted, "a", 10, 1000), step(job.StatusAccepted, "b", 20, 2000), step(job.StatusAccepted, "c", 30, 3001)}
	b.Q.CompleteWith(job.CanonicalID(tok), job.Result{Status: job.StatusAccepted, Run: &runs[0], Tests: runs})
	got := get(t, b, tok, "?fields=stdout,time,wall_time,memory,status")
	if got["stdout"] != "c" || got["time"] != "0.020" || got["wall_time"] != "0.040" || got["memory"] != 2000.0 {
		t.Errorf("all accepted: %v", got)
	}
	tok = create(t, b, map[string]any{"source_code": "x", "language_id": 71, "number_of_runs": 3})
	runs = []job.Step{step(job.StatusAccepted, "a", 10, 1000), step(job.StatusWrongAnswer, "b", 30, 3000), step(job.StatusAccepted, "c", 90, 9000)}
	b.Q.CompleteWith(job.CanonicalID(tok), job.Result{Status: job.StatusWrongAnswer, Run: &runs[0], Tests: runs})
	got = get(t, b, tok, "?fields=stdout,time,memory,status")
	if got["stdout"] != "b" || got["time"] != "0.020" || got["memory"] != 2000.0 || got["status"].(map[string]any)["id"] != 4.0 {
		t.Errorf("second run failed: %v", got)
	}
}

// TestJudge0CPUExtraTime: a run over cpu_time_limit but within the extra
// time is answered as Time Limit Exceeded with its real time (isolate -x).
func TestJudge0CPUExtraTime(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	for _, tc := range []struct {
		cpu  float64
		want float64
	}{{1200, 5}, {900, 3}} {
		tok := create(t, b, map[string]any{"source_code": "x", "language_id": 71, "cpu_time_limit": 1, "cpu_extra_time": 0.5})
		run := job.Step{Verdict: job.StatusAccepted, CPUTimeMs: tc.cpu}
		b.Q.CompleteWith(job.CanonicalID(tok), job.Result{Status: job.StatusAccepted, Run: &run})
		got := get(t, b, tok, "?fields=status,time,cpu_time_limit")
		if got["status"].(map[string]any)["id"] != tc.want || got["cpu_time_limit"] != 1.0 {
			t.Errorf("cpu %v ms: %v, want status %v", tc.cpu, got, tc.want)
		}
	}
}

// TestJudge0RedirectStderrAndFileSize: redirect_stderr_to_stdout answers
// stderr within stdout; a write past max_file_size (SIGXFSZ) is status 8.
func TestJudge0RedirectStderrAndFileSize(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	tok := create(t, b, map[string]any{"source_code": "x", "language_id": 71, "redirect_stderr_to_stdout": true})
	run := job.Step{Verdict: job.StatusAccepted, Stdout: job.NewOutput([]byte("out\n"), false), Stderr: job.NewOutput([]byte("err\n"), false)}
	b.Q.CompleteWith(job.CanonicalID(tok), job.Result{Status: job.StatusAccepted, Run: &run})
	got := get(t, b, tok, "?fields=stdout,stderr")
	if got["stdout"] != "out\nerr\n" || got["stderr"] != nil {
		t.Errorf("redirected: %v", got)
	}
	// With the executor's combined stream, in the order it was written.
	tok = create(t, b, map[string]any{"source_code": "x", "language_id": 71, "redirect_stderr_to_stdout": true})
	both := job.NewOutput([]byte("err\nout\n"), false)
	run.Output = &both
	b.Q.CompleteWith(job.CanonicalID(tok), job.Result{Status: job.StatusAccepted, Run: &run})
	if got := get(t, b, tok, "?fields=stdout,stderr"); got["stdout"] != "err\nout\n" || got["stderr"] != nil {
		t.Errorf("redirected, combined stream: %v", got)
	}
	tok = create(t, b, map[string]any{"source_code": "x", "language_id": 50, "max_file_size": 1})
	run = job.Step{Verdict: job.StatusOutputLimit, LimitExceeded: "file", Signal: "SIGXFSZ", ExitCode: 153,
		Message: "file size limit of 1 KB exceeded (SIGXFSZ)"}
	b.Q.CompleteWith(job.CanonicalID(tok), job.Result{Status: job.StatusOutputLimit, Message: run.Message, Run: &run})
	got = get(t, b, tok, "?fields=status,exit_signal,message")
	if got["status"].(map[string]any)["id"] != 8.0 || got["exit_signal"] != 25.0 || !strings.Contains(got["message"].(string), "SIGXFSZ") {
		t.Errorf("past max_file_size: %v", got)
	}
	// stdout past the cap: the executor kills it, Judge0's program would
	// have got SIGXFSZ writing its stdout file.
	tok = create(t, b, map[string]any{"source_code": "x", "language_id": 71, "max_file_size": 1})
	run = job.Step{Verdict: job.StatusOutputLimit, LimitExceeded: "output", Signal: "SIGKILL", ExitCode: 137}
	b.Q.CompleteWith(job.CanonicalID(tok), job.Result{Status: job.StatusOutputLimit, Run: &run})
	got = get(t, b, tok, "?fields=status,exit_signal")
	if got["status"].(map[string]any)["id"] != 8.0 || got["exit_signal"] != 25.0 {
		t.Errorf("stdout past max_file_size: %v", got)
	}
}

// TestJudge0AdditionalFiles: the zip's files go beside the source, safely.
func TestJudge0AdditionalFiles(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	z := zipB64(t, zipEntry{name: "data.txt", body: "42"}, zipEntry{name: "lib.py", body: "X = 1"},
		zipEntry{name: "main.py", body: "overwrite attempt"}, zipEntry{name: "sub/", mode: os.ModeDir | 0o755})
	tok := create(t, b, map[string]any{"source_code": "print(open('data.txt').read())", "language_id": 71, "additional_files": z})
	req := b.Q.Last()
	names := []string{}
	for _, f := range req.Files {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "main.py,data.txt,lib.py" {
		t.Fatalf("files %v", names)
	}
	if src, _ := req.Files[0].Bytes(); string(src) != "print(open('data.txt').read())" {
		t.Errorf("the source was replaced: %q", src)
	}
	if data, _ := req.Files[1].Bytes(); string(data) != "42" {
		t.Errorf("data.txt %q", data)
	}
	if got := get(t, b, tok, "?fields=additional_files"); got["additional_files"] != z {
		t.Errorf("additional_files not answered as sent")
	}
	big := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name, zip, want string
	}{
		{"absolute", zipB64(t, zipEntry{name: "/etc/passwd", body: "x"}), `entry "/etc/passwd": must be a relative path without ".."`},
		{"dotdot", zipB64(t, zipEntry{name: "../x", body: "x"}), `entry "../x": must be a relative path without ".."`},
		{"symlink", zipB64(t, zipEntry{name: "l", body: "/etc/passwd", mode: os.ModeSymlink | 0o777}), `entry "l": only regular files are allowed (no links or devices)`},
		{"directory", zipB64(t, zipEntry{name: "a/b.txt", body: "x"}), `entry "a/b.txt": files in directories are not supported; put every file at the top level`},
		{"bomb", zipB64(t, zipEntry{name: "a", body: big}, zipEntry{name: "b", body: big}), "extracts to more than 1048576 bytes"},
		{"not a zip", base64.StdEncoding.EncodeToString([]byte("hello")), "is not a zip archive"},
		{"not base64", "!!!", "is not valid base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.Do(t, "POST", "/submissions", map[string]any{"source_code": "1", "language_id": 71, "additional_files": tc.zip})
			gatewaytest.WantStatus(t, resp, http.StatusUnprocessableEntity)
			var errs map[string][]string
			gatewaytest.DecodeBody(t, resp, &errs)
			if len(errs["additional_files"]) != 1 || errs["additional_files"][0] != tc.want {
				t.Fatalf("errors %v, want additional_files: %s", errs, tc.want)
			}
		})
	}
	many := make([]zipEntry, 25)
	for i := range many {
		many[i] = zipEntry{name: "f" + strings.Repeat("x", i), body: "1"}
	}
	resp := b.Do(t, "POST", "/submissions", map[string]any{"source_code": "1", "language_id": 71, "additional_files": zipB64(t, many...)})
	gatewaytest.WantStatus(t, resp, http.StatusUnprocessableEntity)
}

// TestJudge0InfoRoutes: /workers, /statistics, /system_info, /version,
// /authenticate and /authorize in Judge0's shapes.
func TestJudge0InfoRoutes(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	create(t, b, map[string]any{"source_code": "1", "language_id": 71})
	var workers []map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/workers", nil), 200), &workers)
	if len(workers) != 1 || workers[0]["queue"] != "default" || workers[0]["size"] != 1.0 {
		t.Errorf("workers %v", workers)
	}
	for _, k := range []string{"available", "idle", "working", "paused", "failed"} {
		if _, ok := workers[0][k]; !ok {
			t.Errorf("workers lacks %s", k)
		}
	}
	var stats map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/statistics?invalidate_cache=true", nil), 200), &stats)
	subs, _ := stats["submissions"].(map[string]any)
	if days, _ := subs["last_30_days"].(map[string]any); len(days) != 30 || stats["created_at"] == nil || stats["cached_until"] == nil {
		t.Errorf("statistics %v", stats)
	}
	var sys map[string]string
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/system_info", nil), 200), &sys)
	if sys["Architecture"] == "" || sys["CPU(s)"] == "" {
		t.Errorf("system_info %v", sys)
	}
	if body := gatewaytest.WantStatus(t, b.Do(t, "GET", "/version", nil), 200); string(body) != "1.13.1" {
		t.Errorf("version %q", body)
	}
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/authenticate", nil), 200)
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/authorize", nil), 403)
	var cfg map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/config_info", nil), 200), &cfg)
	if cfg["enable_additional_files"] != true || cfg["max_number_of_runs"] != 20.0 {
		t.Errorf("config_info %v", cfg)
	}
}

// TestJudge0CreateAndDeleteShapes: output that cannot be shown as text
// under wait=true is 201 with the token and Judge0's error; a batch with no
// valid submission is 422; DELETE answers base64-encoded, as Judge0 forces.
func TestJudge0CreateAndDeleteShapes(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	b.Q.OnEnqueue(func(id string) {
		run := job.Step{Verdict: job.StatusAccepted, Stdout: job.NewOutput([]byte{0xff, 'x'}, false)}
		b.Q.CompleteWith(id, job.Result{Status: job.StatusAccepted, Run: &run})
	})
	resp := b.Do(t, "POST", "/submissions?wait=true", map[string]any{"source_code": "x", "language_id": 71})
	var got map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, resp, 201), &got)
	if got["token"] == nil || !strings.Contains(got["error"].(string), "use base64_encoded=true") || len(got) != 2 {
		t.Fatalf("wait with binary output: %v", got)
	}
	tok := got["token"].(string)
	del := map[string]any{}
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "DELETE", "/submissions/"+tok+"?fields=stdout", nil), 200), &del)
	if s, _ := base64.StdEncoding.DecodeString(del["stdout"].(string)); string(s) != "\xffx" {
		t.Errorf("DELETE answer %v, want base64", del)
	}
	var batchErr map[string]string
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/submissions/batch?tokens="+tok, nil), 400), &batchErr)
	if !strings.Contains(batchErr["error"], "one or more submissions") {
		t.Errorf("batch get of binary output: %v", batchErr)
	}
	resp = b.Do(t, "POST", "/submissions/batch", map[string]any{"submissions": []any{
		map[string]any{"source_code": "x", "language_id": 9999}, map[string]any{"language_id": 71}}})
	var items []map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, resp, http.StatusUnprocessableEntity), &items)
	if len(items) != 2 || items[0]["language_id"] == nil || items[1]["source_code"] == nil {
		t.Errorf("all-invalid batch: %v", items)
	}
}
