package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
)

// call sends a JSON request (raw) and decodes the JSON answer into a map
// (a body that is not JSON is kept under "_raw").
func call(t *testing.T, method, url string, body any) (int, map[string]any) {
	t.Helper()
	code, b := raw(t, method, url, body)
	var m map[string]any
	if len(b) > 0 && json.Unmarshal(b, &m) != nil {
		m = map[string]any{"_raw": string(b)}
	}
	return code, m
}

// dig walks a decoded JSON value along keys (and slice indexes).
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

// waitFinal polls GET /v1/submissions/{id} until the status is final.
func waitFinal(t *testing.T, base, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, m := call(t, "GET", base+"/v1/submissions/"+id, nil)
		if code == http.StatusOK {
			if s, _ := m["status"].(string); s != "queued" && s != "running" {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("submission %s not final after 60s: %d %v", id, code, m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAPI exercises every public endpoint on both deployment shapes.
func TestAPI(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			base := sh.start(t)
			apiSuite(t, base)
		})
	}
}

func apiSuite(t *testing.T, base string) {
	t.Run("languages", func(t *testing.T) {
		code, m := call(t, "GET", base+"/v1/languages", nil)
		if code != 200 || !strings.Contains(fmt.Sprint(m), "python") {
			t.Fatalf("GET /v1/languages = %d %v", code, m)
		}
	})
	t.Run("execute", func(t *testing.T) {
		code, m := call(t, "POST", base+"/v1/execute", map[string]any{
			"language": "python", "source": "import sys\nprint(input()[::-1], sys.argv[1:])", "stdin": "hello", "args": []string{"a b", "c"}})
		if code != 200 || m["status"] != "accepted" || dig(m, "result", "run", "stdout", "text") != "olleh ['a b', 'c']\n" {
			t.Fatalf("POST /v1/execute = %d %v", code, m)
		}
	})
	t.Run("submit-get-wait", func(t *testing.T) {
		code, m := call(t, "POST", base+"/v1/submissions", map[string]any{"language": "bash", "source": "echo hi"})
		if code != 201 || m["id"] == nil {
			t.Fatalf("POST /v1/submissions = %d %v", code, m)
		}
		final := waitFinal(t, base, m["id"].(string))
		if final["status"] != "accepted" || dig(final, "result", "run", "stdout", "text") != "hi\n" {
			t.Fatalf("final = %v", final)
		}
		code, m = call(t, "POST", base+"/v1/submissions?wait=true", map[string]any{"language": "c",
			"source": "#include <stdio.h>\nint main(){int a,b;scanf(\"%d %d\",&a,&b);printf(\"%d\\n\",a+b);}",
			"tests":  []map[string]any{{"stdin": "1 2", "expected_output": "3"}, {"stdin": "2 2", "expected_output": "5"}}})
		if code != 200 || m["status"] != "wrong_answer" || dig(m, "result", "tests", 0, "verdict") != "accepted" ||
			dig(m, "result", "tests", 1, "verdict") != "wrong_answer" {
			t.Fatalf("wait=true with tests = %d %v", code, m)
		}
	})
	t.Run("compile-error", func(t *testing.T) {
		code, m := call(t, "POST", base+"/v1/execute", map[string]any{"language": "cpp", "source": "int main( { }"})
		if code != 200 || m["status"] != "compilation_error" || dig(m, "result", "compile", "stderr", "text") == "" {
			t.Fatalf("compile error = %d %v", code, m)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		code, m := call(t, "POST", base+"/v1/submissions", map[string]any{"language": "bash", "source": "sleep 30",
			"limits": map[string]any{"wall_time_ms": 20000}})
		if code != 201 {
			t.Fatalf("submit = %d %v", code, m)
		}
		id := m["id"].(string)
		time.Sleep(500 * time.Millisecond) // let it start running; cancel works queued too
		start := time.Now()
		code, m = call(t, "DELETE", base+"/v1/submissions/"+id, nil)
		if code/100 != 2 {
			t.Fatalf("DELETE = %d %v", code, m)
		}
		final := waitFinal(t, base, id)
		if final["status"] != "canceled" {
			t.Fatalf("after cancel: %v", final)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("cancel took %v", d)
		}
	})
	t.Run("batch", func(t *testing.T) {
		var subs []map[string]any
		for i := range 3 {
			subs = append(subs, map[string]any{"language": "bash", "source": fmt.Sprintf("echo %d", i)})
		}
		code, m := call(t, "POST", base+"/v1/submissions/batch", map[string]any{"submissions": subs})
		items, _ := m["items"].([]any)
		if code/100 != 2 || len(items) != 3 {
			t.Fatalf("batch = %d %v", code, m)
		}
		for i, it := range items {
			id, _ := dig(it, "id").(string)
			final := waitFinal(t, base, id)
			if dig(final, "result", "run", "stdout", "text") != fmt.Sprintf("%d\n", i) {
				t.Fatalf("batch item %d: %v", i, final)
			}
		}
	})
	t.Run("events", func(t *testing.T) {
		code, m := call(t, "POST", base+"/v1/submissions", map[string]any{"language": "bash", "source": "sleep 0.3; echo done"})
		if code != 201 {
			t.Fatalf("submit = %d %v", code, m)
		}
		resp, err := http.Get(base + "/v1/submissions/" + m["id"].(string) + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			t.Fatalf("events content type %q", ct)
		}
		var events []string
		var last string
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if ev, ok := strings.CutPrefix(line, "event: "); ok {
				events = append(events, ev)
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				last = d
			}
		}
		if len(events) == 0 || events[len(events)-1] != "result" || !strings.Contains(last, `"done\n"`) {
			t.Fatalf("events %v, last data %s", events, last)
		}
	})
	t.Run("history", func(t *testing.T) {
		code, m := call(t, "POST", base+"/v1/execute", map[string]any{"language": "python", "source": "print(42)",
			"metadata": map[string]string{"case": "history"}})
		if code != 200 {
			t.Fatalf("execute = %d %v", code, m)
		}
		id := m["id"].(string)
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, l := call(t, "GET", base+"/v1/submissions?language=python&limit=50", nil)
			if code == 200 && strings.Contains(fmt.Sprint(l["items"]), id) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("history never listed %s: %d %v", id, code, l)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	t.Run("judge0", func(t *testing.T) {
		code, m := call(t, "POST", base+"/submissions?wait=true&base64_encoded=false", map[string]any{
			"source_code": "print(input())", "language_id": 71, "stdin": "judge0"})
		if code/100 != 2 || dig(m, "status", "id") != float64(3) || m["stdout"] != "judge0\n" {
			t.Fatalf("Judge0 submission = %d %v", code, m)
		}
		code, m = call(t, "GET", base+"/statuses", nil)
		if code != 200 {
			t.Fatalf("/statuses = %d %v", code, m)
		}
	})
	t.Run("piston", func(t *testing.T) {
		code, m := call(t, "POST", base+"/api/v2/execute", map[string]any{"language": "python", "version": "*",
			"files": []map[string]any{{"content": "print('piston')"}}})
		if code != 200 || dig(m, "run", "stdout") != "piston\n" || dig(m, "run", "code") != float64(0) {
			t.Fatalf("Piston execute = %d %v", code, m)
		}
	})
	t.Run("callback", func(t *testing.T) {
		got := make(chan map[string]any, 4)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var m map[string]any
			_ = json.NewDecoder(r.Body).Decode(&m)
			got <- m
		}))
		defer srv.Close()
		code, m := call(t, "POST", base+"/v1/submissions", map[string]any{"language": "bash", "source": "echo cb", "callback_url": srv.URL})
		if code != 201 {
			t.Fatalf("submit = %d %v", code, m)
		}
		select {
		case cb := <-got:
			if cb["id"] != m["id"] || cb["status"] != "accepted" {
				t.Fatalf("callback body %v", cb)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no callback within 30s")
		}
	})
	t.Run("docs", func(t *testing.T) {
		code, m := call(t, "GET", base+"/openapi.json", nil)
		if code != 200 || !strings.HasPrefix(fmt.Sprint(m["openapi"]), "3.1") {
			t.Fatalf("/openapi.json = %d %v", code, m["openapi"])
		}
		resp, err := http.Get(base + "/docs")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "<html") || strings.Contains(string(b), "https://cdn") {
			t.Fatalf("/docs = %s", resp.Status)
		}
	})
	t.Run("bad-input", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			body  any
			field string
		}{
			{"unknown language", map[string]any{"language": "brainfuck", "source": "x"}, "language"},
			{"empty source", map[string]any{"language": "python", "source": ""}, "source"},
			{"unknown field", map[string]any{"language": "python", "source": "x", "sauce": 1}, "sauce"},
			{"limit above maximum", map[string]any{"language": "python", "source": "x", "limits": map[string]any{"memory_kb": 1 << 40}}, "limits.memory_kb"},
		} {
			code, m := call(t, "POST", base+"/v1/submissions", tc.body)
			if code/100 != 4 || !strings.Contains(fmt.Sprint(m["errors"]), tc.field) {
				t.Errorf("%s: %d %v, want 4xx naming %s", tc.name, code, m, tc.field)
			}
		}
	})
}

// awaitFinal polls GET /v1/submissions/{id} until the submission is final
// or within runs out.
func awaitFinal(hc *http.Client, base, id string, within time.Duration) (map[string]any, error) {
	deadline := time.Now().Add(within)
	for {
		resp, err := hc.Get(base + "/v1/submissions/" + id)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		err = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("GET %s: %s: %w", id, resp.Status, err)
		}
		if st, _ := m["status"].(string); job.Status(st).Final() {
			return m, nil
		}
		if time.Now().After(deadline) {
			return m, fmt.Errorf("%s not final after %s", id, within)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestLoad sends 1,000 submissions from 50 concurrent clients to each shape;
// every one must complete with its own output.
func TestLoad(t *testing.T) {
	const total, clients = 1000, 50
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			base := sh.start(t)
			hc := &http.Client{Timeout: 5 * time.Minute}
			next := make(chan int)
			go func() {
				for i := range total {
					next <- i
				}
				close(next)
			}()
			var (
				mu   sync.Mutex
				bad  []string
				wg   sync.WaitGroup
				done int
			)
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						body := fmt.Sprintf(`{"language":"bash","source":"read x; echo $((x*2))","stdin":"%d"}`, i)
						resp, err := hc.Post(base+"/v1/execute", "application/json", strings.NewReader(body))
						var m map[string]any
						if err == nil {
							_ = json.NewDecoder(resp.Body).Decode(&m)
							resp.Body.Close()
							if resp.StatusCode == http.StatusAccepted {
								// The server's wait ran out (a loaded machine):
								// fetch the result as a client would.
								m, err = awaitFinal(hc, base, fmt.Sprint(m["id"]), 10*time.Minute)
							}
						}
						mu.Lock()
						if err != nil || m["status"] != "accepted" || dig(m, "result", "run", "stdout", "text") != fmt.Sprintf("%d\n", 2*i) {
							if len(bad) < 5 {
								bad = append(bad, fmt.Sprintf("#%d: %v %v", i, err, m))
							}
						} else {
							done++
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if done != total {
				t.Fatalf("%d of %d completed correctly; first failures: %v", done, total, bad)
			}
		})
	}
}
