package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCompatConformance is the conformance suite of the two compatibility
// APIs against `app all` with the real executor: the Judge0 CE 1.13 docs
// (docs/api in judge0/judge0) walked attribute by attribute, and Piston v2's
// readme (engineer-man/piston) for its fields, version selectors and
// errors. Unit tests in roles/gateway/judge0 and roles/gateway/piston check
// the same shapes against a fake queue; this suite proves that real
// programs get them.
func TestCompatConformance(t *testing.T) {
	base := startAllEmbedded(t)
	t.Run("judge0", func(t *testing.T) { judge0Suite(t, base) })
	t.Run("piston", func(t *testing.T) { pistonSuite(t, base) })
	t.Run("judge0-auth", func(t *testing.T) {
		t.Parallel()
		judge0AuthSuite(t, startAllEmbedded(t, "--api-keys", "conformance-key"))
	})
}

// raw sends a request and returns the status and body.
func raw(t *testing.T, method, url string, body any, headers ...string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func unb64(t *testing.T, v any) string {
	t.Helper()
	s, _ := v.(string)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("not base64: %q", s)
	}
	return string(b)
}

// judge0Wait creates a submission with wait=true and answers every field.
func judge0Wait(t *testing.T, base string, body map[string]any, query string) map[string]any {
	t.Helper()
	code, m := call(t, "POST", base+"/submissions?wait=true&fields=*"+query, body)
	if code != http.StatusCreated {
		t.Fatalf("POST /submissions = %d %v", code, m)
	}
	return m
}

const (
	judge0Python = 71
	judge0C      = 50
	judge0Bash   = 46
)

func judge0Suite(t *testing.T, base string) {
	// Statuses 3-12 as real programs produce them. (14, Exec Format Error,
	// cannot happen: as in Judge0 since 1.x, every command runs through the
	// catalog's runner, so a binary that does not execute is NZEC; the
	// mapping is unit-tested.)
	cSig := func(body string) string {
		return "#include <signal.h>\n#include <stdlib.h>\n#include <stdio.h>\nint main(void) {" + body + "}\n"
	}
	statusCases := []struct {
		name   string
		body   map[string]any
		status float64
		check  func(t *testing.T, m map[string]any)
	}{
		{"3 accepted", map[string]any{"language_id": judge0Python, "source_code": "print(input())", "stdin": "x", "expected_output": "x"}, 3, nil},
		{"4 wrong answer", map[string]any{"language_id": judge0Python, "source_code": "print(input())", "stdin": "x", "expected_output": "y"}, 4, nil},
		{"5 time limit", map[string]any{"language_id": judge0Python, "source_code": "while True: pass", "cpu_time_limit": 0.5}, 5, nil},
		{"6 compilation error", map[string]any{"language_id": judge0C, "source_code": "int main(void) { return undefined_name; }"}, 6,
			func(t *testing.T, m map[string]any) {
				if !strings.Contains(fmt.Sprint(m["compile_output"]), "undefined_name") || m["time"] != nil {
					t.Errorf("compile_output %v, time %v", m["compile_output"], m["time"])
				}
			}},
		{"7 SIGSEGV", map[string]any{"language_id": judge0C, "source_code": cSig("raise(SIGSEGV); return 0;")}, 7,
			func(t *testing.T, m map[string]any) {
				if m["exit_signal"] != 11.0 {
					t.Errorf("exit_signal %v", m["exit_signal"])
				}
			}},
		{"8 SIGXFSZ past max_file_size", map[string]any{"language_id": judge0C, "max_file_size": 4,
			"source_code": cSig(`FILE *f = fopen("big", "w"); for (int i = 0; i < 100000; i++) fputc('x', f); fclose(f); return 0;`)}, 8,
			func(t *testing.T, m map[string]any) {
				if m["exit_signal"] != 25.0 || m["max_file_size"] != 4.0 {
					t.Errorf("exit_signal %v, max_file_size %v", m["exit_signal"], m["max_file_size"])
				}
			}},
		{"9 SIGFPE", map[string]any{"language_id": judge0C, "source_code": "#include <stdio.h>\nint main(int argc, char **argv) { volatile int z = 0; printf(\"%d\\n\", argc / z); return 0; }\n"}, 9, nil},
		{"10 SIGABRT", map[string]any{"language_id": judge0C, "source_code": cSig("abort();")}, 10, nil},
		{"11 NZEC", map[string]any{"language_id": judge0Python, "source_code": "import sys; sys.exit(3)"}, 11,
			func(t *testing.T, m map[string]any) {
				if m["exit_code"] != 3.0 || m["exit_signal"] != nil {
					t.Errorf("exit_code %v exit_signal %v", m["exit_code"], m["exit_signal"])
				}
			}},
		{"12 other signal", map[string]any{"language_id": judge0C, "source_code": cSig("raise(SIGUSR1); return 0;")}, 12, nil},
		{"12 memory limit", map[string]any{"language_id": judge0Python, "memory_limit": 32768,
			"source_code": "x = bytearray(200 * 1024 * 1024)"}, 12, nil},
	}
	t.Run("statuses", func(t *testing.T) {
		t.Parallel()
		for _, tc := range statusCases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				m := judge0Wait(t, base, tc.body, "")
				if dig(m, "status", "id") != tc.status || m["status_id"] != tc.status {
					t.Fatalf("status %v, want %v: %v", m["status"], tc.status, m)
				}
				if tc.check != nil {
					tc.check(t, m)
				}
			})
		}
	})

	t.Run("1 in queue, 2 processing, 13 canceled", func(t *testing.T) {
		t.Parallel()
		code, m := call(t, "POST", base+"/submissions", map[string]any{"language_id": judge0Bash, "source_code": "sleep 30", "wall_time_limit": 20})
		if code != http.StatusCreated {
			t.Fatalf("POST = %d %v", code, m)
		}
		tok := m["token"].(string)
		seen := map[float64]bool{}
		deadline := time.Now().Add(30 * time.Second)
		for !seen[2] && time.Now().Before(deadline) {
			_, g := call(t, "GET", base+"/submissions/"+tok+"?fields=status", nil)
			id, _ := dig(g, "status", "id").(float64)
			seen[id] = true
			time.Sleep(20 * time.Millisecond)
		}
		if !seen[2] {
			t.Fatalf("never Processing: saw %v", seen)
		}
		_, d := call(t, "DELETE", base+"/submissions/"+tok+"?fields=status,message", nil)
		for time.Now().Before(deadline) && dig(d, "status", "id") != 13.0 {
			time.Sleep(50 * time.Millisecond)
			_, d = call(t, "GET", base+"/submissions/"+tok+"?fields=status,message", nil)
		}
		if dig(d, "status", "id") != 13.0 {
			t.Fatalf("after DELETE: %v", d)
		}
	})

	t.Run("request and response attributes", func(t *testing.T) {
		t.Parallel()
		src := "import sys\nprint(input(), *sys.argv[1:])\nprint('to stderr', file=sys.stderr)\n"
		m := judge0Wait(t, base, map[string]any{"language_id": judge0Python, "source_code": src, "stdin": "in",
			"command_line_arguments": `a "b c"`, "cpu_time_limit": 2, "cpu_extra_time": 0.5, "wall_time_limit": 5,
			"memory_limit": 131072, "stack_limit": 16384, "max_processes_and_or_threads": 16, "max_file_size": 2048,
			"enable_per_process_and_thread_time_limit": false, "enable_per_process_and_thread_memory_limit": false,
			"redirect_stderr_to_stdout": false, "enable_network": false, "number_of_runs": 1}, "")
		want := map[string]any{"stdout": "in a b c\n", "stderr": "to stderr\n", "source_code": src, "language_id": 71.0, "stdin": "in",
			"command_line_arguments": `a "b c"`, "cpu_time_limit": 2.0, "cpu_extra_time": 0.5, "wall_time_limit": 5.0,
			"memory_limit": 131072.0, "stack_limit": 16384.0, "max_processes_and_or_threads": 16.0, "max_file_size": 2048.0,
			"enable_per_process_and_thread_time_limit": false, "enable_per_process_and_thread_memory_limit": false,
			"redirect_stderr_to_stdout": false, "enable_network": false, "number_of_runs": 1.0, "exit_code": 0.0,
			"compile_output": nil, "expected_output": nil, "additional_files": nil, "callback_url": nil}
		for k, v := range want {
			if got, ok := m[k]; !ok || got != v {
				t.Errorf("%s = %#v (present %v), want %#v", k, got, ok, v)
			}
		}
		for _, k := range []string{"token", "created_at", "finished_at", "started_at", "queued_at", "updated_at", "time", "wall_time", "memory", "execution_host"} {
			if m[k] == nil {
				t.Errorf("%s is null", k)
			}
		}
		for _, k := range []string{"created_at", "finished_at"} {
			if _, err := time.Parse("2006-01-02T15:04:05.000Z", fmt.Sprint(m[k])); err != nil {
				t.Errorf("%s %v: %v", k, m[k], err)
			}
		}
		if l, _ := m["language"].(map[string]any); l["id"] != 71.0 || !strings.HasPrefix(fmt.Sprint(l["name"]), "Python") {
			t.Errorf("language %v", m["language"])
		}
		// Default fields, and a selection.
		code, d := call(t, "GET", base+"/submissions/"+m["token"].(string), nil)
		if code != 200 || len(d) != 8 {
			t.Errorf("default fields: %d %v", code, d)
		}
		_, d = call(t, "GET", base+"/submissions/"+m["token"].(string)+"?fields=stdout,memory", nil)
		if len(d) != 2 || d["stdout"] != "in a b c\n" {
			t.Errorf("fields=stdout,memory: %v", d)
		}
		code, d = call(t, "GET", base+"/submissions/"+m["token"].(string)+"?fields=stdout,nope", nil)
		if code != 400 || d["error"] != "invalid fields: [nope]" {
			t.Errorf("unknown field: %d %v", code, d)
		}
	})

	t.Run("base64 both ways", func(t *testing.T) {
		t.Parallel()
		m := judge0Wait(t, base, map[string]any{"language_id": judge0Python, "source_code": b64("print(input())"),
			"stdin": b64("héllo"), "expected_output": b64("héllo")}, "&base64_encoded=true")
		if dig(m, "status", "id") != 3.0 || unb64(t, m["stdout"]) != "héllo\n" || unb64(t, m["stdin"]) != "héllo" ||
			unb64(t, m["source_code"]) != "print(input())" || unb64(t, m["expected_output"]) != "héllo" {
			t.Fatalf("base64: %v", m)
		}
		m = judge0Wait(t, base, map[string]any{"language_id": judge0Python, "source_code": b64("import sys\nsys.stdout.buffer.write(b'\\xff')")},
			"&base64_encoded=true")
		if dig(m, "status", "id") != 3.0 || unb64(t, m["stdout"]) != "\xff" {
			t.Fatalf("binary stdout: %v", m)
		}
		// Output that is not UTF-8 cannot be answered as text.
		code, d := call(t, "GET", base+"/submissions/"+m["token"].(string)+"?fields=stdout", nil)
		if code != 400 || !strings.Contains(fmt.Sprint(d["error"]), "base64_encoded=true") {
			t.Errorf("non-UTF-8 without base64: %d %v", code, d)
		}
	})

	t.Run("number_of_runs, cpu_extra_time, redirect_stderr_to_stdout, stack_limit", func(t *testing.T) {
		t.Parallel()
		m := judge0Wait(t, base, map[string]any{"language_id": judge0Bash, "number_of_runs": 3, "stack_limit": 4096,
			"redirect_stderr_to_stdout": true, "source_code": "ulimit -s; echo err >&2; [ -e /box/mark ] && echo leaked; : > /box/mark"}, "")
		if dig(m, "status", "id") != 3.0 || m["stdout"] != "4096\nerr\n" || m["stderr"] != nil || m["number_of_runs"] != 3.0 {
			t.Fatalf("runs: %v", m)
		}
		m = judge0Wait(t, base, map[string]any{"language_id": judge0Python, "cpu_time_limit": 0.2, "cpu_extra_time": 2,
			"source_code": "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\nprint('done')"}, "")
		// Over the limit but within the extra time: it finished, and is
		// still a time limit exceeded with its real time (isolate -x).
		if dig(m, "status", "id") != 5.0 || m["stdout"] != "done\n" || m["cpu_time_limit"] != 0.2 || m["cpu_extra_time"] != 2.0 {
			t.Fatalf("extra time: %v", m)
		}
	})

	t.Run("additional_files", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create("data.txt")
		_, _ = io.WriteString(w, "from the zip")
		w, _ = zw.Create("helper.py")
		_, _ = io.WriteString(w, "def f():\n    return open('data.txt').read()\n")
		_ = zw.Close()
		z := base64.StdEncoding.EncodeToString(buf.Bytes())
		m := judge0Wait(t, base, map[string]any{"language_id": judge0Python, "source_code": "from helper import f\nprint(f())", "additional_files": z}, "")
		if dig(m, "status", "id") != 3.0 || m["stdout"] != "from the zip\n" || m["additional_files"] != z {
			t.Fatalf("additional_files: %v", m)
		}
		var evil bytes.Buffer
		zw = zip.NewWriter(&evil)
		w, _ = zw.Create("../escape")
		_, _ = io.WriteString(w, "x")
		_ = zw.Close()
		code, e := call(t, "POST", base+"/submissions", map[string]any{"language_id": judge0Python, "source_code": "1",
			"additional_files": base64.StdEncoding.EncodeToString(evil.Bytes())})
		if code != 422 || e["additional_files"] == nil {
			t.Fatalf("zip with ..: %d %v", code, e)
		}
	})

	t.Run("batch create and get", func(t *testing.T) {
		t.Parallel()
		code, b := raw(t, "POST", base+"/submissions/batch", map[string]any{"submissions": []map[string]any{
			{"language_id": judge0Python, "source_code": "print(1)"},
			{"language_id": 9999, "source_code": "x"},
			{"language_id": judge0Bash, "source_code": "echo 2"},
		}})
		var items []map[string]any
		if err := json.Unmarshal(b, &items); code != 201 || err != nil || len(items) != 3 {
			t.Fatalf("batch create: %d %s", code, b)
		}
		if items[0]["token"] == nil || items[2]["token"] == nil || items[1]["language_id"] == nil {
			t.Fatalf("batch items %v", items)
		}
		tokens := items[0]["token"].(string) + "," + items[2]["token"].(string)
		deadline := time.Now().Add(60 * time.Second)
		for {
			_, g := call(t, "GET", base+"/submissions/batch?tokens="+tokens+"&fields=stdout,status_id", nil)
			subs, _ := g["submissions"].([]any)
			if len(subs) == 2 && dig(g, "submissions", 0, "status_id") == 3.0 && dig(g, "submissions", 1, "status_id") == 3.0 {
				if dig(g, "submissions", 0, "stdout") != "1\n" || dig(g, "submissions", 1, "stdout") != "2\n" {
					t.Fatalf("batch get %v", g)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("batch not finished: %v", g)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("callback", func(t *testing.T) {
		t.Parallel()
		got := make(chan *http.Request, 1)
		bodies := make(chan []byte, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			select {
			case got <- r:
				bodies <- b
			default:
			}
		}))
		defer srv.Close()
		code, m := call(t, "POST", base+"/submissions", map[string]any{"language_id": judge0Python, "source_code": "print('cb')", "callback_url": srv.URL})
		if code != 201 {
			t.Fatalf("POST = %d %v", code, m)
		}
		select {
		case r := <-got:
			var body map[string]any
			_ = json.Unmarshal(<-bodies, &body)
			if r.Method != http.MethodPut || body["token"] != m["token"] || unb64(t, body["stdout"]) != "cb\n" || len(body) != 8 {
				t.Fatalf("callback %s %v", r.Method, body)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("no callback")
		}
	})

	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		code, m := call(t, "POST", base+"/submissions", map[string]any{"language_id": judge0Python, "source_code": "1",
			"memory_limit": 100, "enable_network": true, "number_of_runs": 0})
		if code != 422 || fmt.Sprint(m["memory_limit"]) != "[must be greater than or equal to 2048]" ||
			fmt.Sprint(m["enable_network"]) != "[enabling network is not allowed]" || fmt.Sprint(m["number_of_runs"]) != "[must be greater than 0]" {
			t.Errorf("422: %d %v", code, m)
		}
		many := make([]map[string]any, 21)
		for i := range many {
			many[i] = map[string]any{"language_id": judge0Python, "source_code": "1"}
		}
		code, m = call(t, "POST", base+"/submissions/batch", map[string]any{"submissions": many})
		if code != 400 || m["error"] == nil {
			t.Errorf("batch of 21: %d %v", code, m)
		}
	})

	t.Run("information routes", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/languages", "/languages/all", "/statuses", "/workers"} {
			code, b := raw(t, "GET", base+path, nil)
			var list []map[string]any
			if err := json.Unmarshal(b, &list); code != 200 || err != nil || len(list) == 0 {
				t.Errorf("%s: %d %s", path, code, b)
			}
		}
		for _, path := range []string{"/languages/71", "/about", "/config_info", "/system_info", "/statistics"} {
			if code, m := call(t, "GET", base+path, nil); code != 200 || len(m) == 0 {
				t.Errorf("%s: %d %v", path, code, m)
			}
		}
		if code, b := raw(t, "GET", base+"/version", nil); code != 200 || string(b) != "1.13.1" {
			t.Errorf("/version: %d %q", code, b)
		}
		_, cfg := call(t, "GET", base+"/config_info", nil)
		for k, v := range cfg {
			switch v.(type) {
			case float64, bool, []any:
			default:
				t.Errorf("config_info %s = %#v: Judge0 clients want numbers and booleans", k, v)
			}
		}
		if code, b := raw(t, "GET", base+"/languages/75", nil); code != 200 || !strings.Contains(string(b), "Clang") {
			t.Errorf("/languages/75 (Judge0's Clang C): %d %s", code, b)
		}
	})
}

// judge0AuthSuite: X-Auth-Token, /authenticate and /authorize on a gateway
// that requires an API key.
func judge0AuthSuite(t *testing.T, base string) {
	if code, _ := raw(t, "POST", base+"/authenticate", nil); code != 401 {
		t.Errorf("/authenticate without a token: %d, want 401", code)
	}
	if code, _ := raw(t, "POST", base+"/authenticate", nil, "X-Auth-Token", "wrong"); code != 401 {
		t.Errorf("/authenticate with a wrong token: %d, want 401", code)
	}
	if code, b := raw(t, "POST", base+"/authenticate", nil, "X-Auth-Token", "conformance-key"); code != 200 || len(b) != 0 {
		t.Errorf("/authenticate: %d %q, want 200 and no body", code, b)
	}
	if code, _ := raw(t, "POST", base+"/authorize", nil, "X-Auth-Token", "conformance-key"); code != 403 {
		t.Errorf("/authorize: %d, want 403 (no authorization token configured)", code)
	}
	if code, _ := raw(t, "GET", base+"/submissions/batch?tokens=x", nil); code != 401 {
		t.Errorf("a submission route without a token: %d, want 401", code)
	}
	code, b := raw(t, "POST", base+"/submissions?wait=true", map[string]any{"language_id": judge0Python, "source_code": "print(5)"},
		"X-Auth-Token", "conformance-key")
	if code != 201 || !strings.Contains(string(b), `"stdout":"5\n"`) {
		t.Errorf("submission with X-Auth-Token: %d %s", code, b)
	}
}

func pistonSuite(t *testing.T, base string) {
	exec := func(t *testing.T, body map[string]any) (int, map[string]any) {
		t.Helper()
		return call(t, "POST", base+"/api/v2/execute", body)
	}
	py := func(version, src string) map[string]any {
		return map[string]any{"language": "python", "version": version, "files": []map[string]string{{"content": src}}}
	}
	t.Run("version selectors", func(t *testing.T) {
		t.Parallel()
		for _, v := range []string{"*", "3.x", "3", "^3.0.0", "~3", ">=3.0.0", "<4 || >=10", "3.x.x"} {
			code, m := exec(t, py(v, "print('ok')"))
			if code != 200 || dig(m, "run", "stdout") != "ok\n" || m["language"] != "python" {
				t.Errorf("version %q: %d %v", v, code, m)
			}
		}
		code, m := exec(t, py("2.x", "print(1)"))
		if code != 400 || m["message"] != "python-2.x runtime is unknown" {
			t.Errorf("unknown version: %d %v", code, m)
		}
	})
	t.Run("fields", func(t *testing.T) {
		t.Parallel()
		code, m := exec(t, map[string]any{"language": "py", "version": "*", "stdin": "in", "args": []string{"x", "y"},
			"run_timeout": 3000, "run_cpu_time": 3000, "run_memory_limit": 128 << 20,
			"files": []map[string]string{{"name": "prog.py", "content": "import sys\nprint(input(), sys.argv[0], *sys.argv[1:])\nprint('e', file=sys.stderr)"},
				{"name": "x.bin", "content": "aGk=", "encoding": "base64"}}})
		if code != 200 || dig(m, "run", "stdout") != "in prog.py x y\n" || dig(m, "run", "stderr") != "e\n" ||
			dig(m, "run", "code") != 0.0 || dig(m, "run", "signal") != nil || dig(m, "run", "status") != nil {
			t.Fatalf("execute: %d %v", code, m)
		}
		for _, k := range []string{"output", "cpu_time", "wall_time", "memory", "message"} {
			if _, ok := m["run"].(map[string]any)[k]; !ok {
				t.Errorf("run lacks %s", k)
			}
		}
	})
	t.Run("compile error mirrors run", func(t *testing.T) {
		t.Parallel()
		code, m := exec(t, map[string]any{"language": "c", "version": "*", "files": []map[string]string{{"content": "int main(void) { return nope; }"}}})
		if code != 200 || dig(m, "compile", "code") == 0.0 || !strings.Contains(fmt.Sprint(dig(m, "compile", "stderr")), "nope") ||
			fmt.Sprint(m["run"]) != fmt.Sprint(m["compile"]) {
			t.Fatalf("compile error: %d %v", code, m)
		}
	})
	t.Run("stage statuses", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			body   map[string]any
			status string
		}{
			{py("*", "while True: pass"), "TO"},
			{py("*", "import sys; sys.exit(2)"), "RE"},
			{py("*", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"), "SG"},
			{py("*", "print('x' * (64 << 20))"), "OL"},
		} {
			if tc.status == "TO" {
				tc.body["run_timeout"] = 500
			}
			code, m := exec(t, tc.body)
			if code != 200 || dig(m, "run", "status") != tc.status {
				t.Errorf("want %s: %d %v", tc.status, code, dig(m, "run"))
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			body map[string]any
			want string
		}{
			{map[string]any{"version": "*", "files": []any{}}, "language is required as a string"},
			{map[string]any{"language": "python", "files": []any{}}, "version is required as a string"},
			{map[string]any{"language": "python", "version": "*"}, "files is required as an array"},
			{map[string]any{"language": "python", "version": "*", "files": []map[string]any{{"name": "a"}}}, "files[0].content is required as a string"},
			{map[string]any{"language": "nope", "version": "*", "files": []map[string]string{{"content": "1"}}}, "nope-* runtime is unknown"},
			{map[string]any{"language": "python", "version": "*", "files": []map[string]string{{"content": "aGk=", "encoding": "base64"}}},
				"files must include at least one utf8 encoded file"},
			{map[string]any{"language": "python", "version": "*", "files": []map[string]string{{"content": "1"}}, "run_timeout": "x"},
				"If specified, run_timeout must be a number"},
			{map[string]any{"language": "python", "version": "*", "files": []map[string]string{{"content": "1"}}, "run_timeout": 1 << 40},
				"run_timeout cannot exceed the configured limit of 30000"},
			{map[string]any{"language": "python", "version": "*", "files": []map[string]string{{"content": "1"}}, "compile_memory_limit": -5},
				"compile_memory_limit must be non-negative"},
		} {
			code, m := exec(t, tc.body)
			if code != 400 || m["message"] != tc.want {
				t.Errorf("%v: %d %v, want %q", tc.body, code, m, tc.want)
			}
		}
		// A body without Content-Type (the npm client) is JSON; one that is
		// not JSON is refused.
		req, _ := http.NewRequest("POST", base+"/api/v2/execute", strings.NewReader(`{"language":"python","version":"*","files":[{"content":"print(7)"}]}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"stdout":"7\n"`) {
			t.Errorf("no Content-Type: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("runtimes and packages", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/api/v2/runtimes", "/api/v2/packages"} {
			code, b := raw(t, "GET", base+path, nil)
			var list []map[string]any
			if err := json.Unmarshal(b, &list); code != 200 || err != nil || len(list) == 0 {
				t.Errorf("%s: %d %s", path, code, b)
			}
		}
	})
}
