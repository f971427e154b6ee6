package native_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway"
	"github.com/execbox/app/roles/gateway/internal/gatewaytest"
	"github.com/execbox/app/roles/gateway/native"
)

func TestSubmitRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, func(c *gateway.Config, _ *gateway.Deps) {
		c.MaxBodyBytes = 4096
		c.MaxFiles = 2
		c.MaxTests = 2
		c.MaxArgs = 2
		c.MaxStdinBytes = 100
		c.MaxSourceBytes = 1000
		c.MaxMetadataBytes = 50
		c.MaxLimits.CPUTimeMs = 5000
	})
	py := `"language":"python"`
	src := `"source":"print(1)"`
	for _, tc := range []struct {
		name        string
		body        string
		contentType string
		headers     []string
		query       string
		status      int
		field       string // the field the problem must name, if any
	}{
		{name: "missing language", body: `{` + src + `}`, status: 400, field: "language"},
		{name: "unknown language", body: `{"language":"brainfuck",` + src + `}`, status: 400, field: "language"},
		{name: "unknown version", body: `{` + py + `,"version":"2.7",` + src + `}`, status: 400, field: "version"},
		{name: "empty source", body: `{` + py + `,"source":"  "}`, status: 400, field: "source"},
		{name: "no source", body: `{` + py + `}`, status: 400, field: "source"},
		{name: "source and files", body: `{` + py + `,` + src + `,"files":[{"name":"a.py","content":"x"}]}`, status: 400, field: "source"},
		{name: "oversized body", body: `{` + py + `,"source":"` + strings.Repeat("x", 5000) + `"}`, status: 413},
		{name: "source too large", body: `{` + py + `,"source":"` + strings.Repeat("x", 1001) + `"}`, status: 400, field: "source"},
		{name: "too many files", body: `{` + py + `,"files":[{"name":"a","content":"1"},{"name":"b","content":"2"},{"name":"c","content":"3"}]}`, status: 400, field: "files"},
		{name: "bad base64", body: `{` + py + `,"files":[{"name":"main.py","content":"!!notbase64","encoding":"base64"}]}`, status: 400, field: "files[0].content"},
		{name: "unknown encoding", body: `{` + py + `,"files":[{"name":"main.py","content":"x","encoding":"rot13"}]}`, status: 400, field: "files[0].encoding"},
		{name: "file name with slash", body: `{` + py + `,"files":[{"name":"../etc/passwd","content":"x"}]}`, status: 400, field: "files[0].name"},
		{name: "file name dotdot", body: `{` + py + `,"files":[{"name":"main.py","content":"x"},{"name":"..","content":"x"}]}`, status: 400, field: "files[1].name"},
		{name: "duplicate file names", body: `{` + py + `,"files":[{"name":"a.py","content":"x"},{"name":"a.py","content":"y"}]}`, status: 400, field: "files[1].name"},
		{name: "empty files", body: `{` + py + `,"files":[{"name":"main.py","content":""}]}`, status: 400, field: "files"},
		{name: "cpu limit above maximum", body: `{` + py + `,` + src + `,"limits":{"cpu_time_ms":5001}}`, status: 400, field: "limits.cpu_time_ms"},
		{name: "memory limit above maximum", body: `{` + py + `,` + src + `,"limits":{"memory_kb":99999999}}`, status: 400, field: "limits.memory_kb"},
		{name: "negative limit", body: `{` + py + `,` + src + `,"limits":{"wall_time_ms":-1}}`, status: 400, field: "limits.wall_time_ms"},
		{name: "compile limit above maximum", body: `{` + py + `,` + src + `,"compile_limits":{"cpu_time_ms":5001}}`, status: 400, field: "compile_limits.cpu_time_ms"},
		{name: "negative compile limit", body: `{` + py + `,` + src + `,"compile_limits":{"memory_kb":-1}}`, status: 400, field: "compile_limits.memory_kb"},
		{name: "unknown field", body: `{` + py + `,` + src + `,"sourcecode":"x"}`, status: 400, field: "sourcecode"},
		{name: "wrong field type", body: `{"language":7,` + src + `}`, status: 400, field: "language"},
		{name: "malformed JSON", body: `{` + py + `,`, status: 400},
		{name: "trailing data", body: `{` + py + `,` + src + `} {}`, status: 400},
		{name: "empty body", body: ``, status: 400},
		{name: "wrong content type", body: `{` + py + `,` + src + `}`, contentType: "text/plain", status: 415},
		{name: "bad priority", body: `{` + py + `,` + src + `,"priority":"urgent"}`, status: 400, field: "priority"},
		{name: "stdin too large", body: `{` + py + `,` + src + `,"stdin":"` + strings.Repeat("x", 101) + `"}`, status: 400, field: "stdin"},
		{name: "too many tests", body: `{` + py + `,` + src + `,"tests":[{},{},{}]}`, status: 400, field: "tests"},
		{name: "tests and expected_output", body: `{` + py + `,` + src + `,"tests":[{}],"expected_output":"1"}`, status: 400, field: "expected_output"},
		{name: "too many args", body: `{` + py + `,` + src + `,"args":["a","b","c"]}`, status: 400, field: "args"},
		{name: "too many compile args", body: `{` + py + `,` + src + `,"compile_args":["a","b","c"]}`, status: 400, field: "compile_args"},
		{name: "metadata too large", body: `{` + py + `,` + src + `,"metadata":{"k":"` + strings.Repeat("v", 60) + `"}}`, status: 400, field: "metadata"},
		{name: "callback scheme", body: `{` + py + `,` + src + `,"callback_url":"ftp://example.com/x"}`, status: 400, field: "callback_url"},
		{name: "callback loopback", body: `{` + py + `,` + src + `,"callback_url":"http://127.0.0.1:9/x"}`, status: 400, field: "callback_url"},
		{name: "callback localhost", body: `{` + py + `,` + src + `,"callback_url":"http://localhost/x"}`, status: 400, field: "callback_url"},
		{name: "callback private", body: `{` + py + `,` + src + `,"callback_url":"http://10.1.2.3/x"}`, status: 400, field: "callback_url"},
		{name: "callback link-local", body: `{` + py + `,` + src + `,"callback_url":"http://169.254.169.254/latest"}`, status: 400, field: "callback_url"},
		{name: "callback ipv6 loopback", body: `{` + py + `,` + src + `,"callback_url":"http://[::1]/x"}`, status: 400, field: "callback_url"},
		{name: "callback mapped ipv4", body: `{` + py + `,` + src + `,"callback_url":"http://[::ffff:127.0.0.1]/x"}`, status: 400, field: "callback_url"},
		{name: "callback unspecified", body: `{` + py + `,` + src + `,"callback_url":"http://0.0.0.0/x"}`, status: 400, field: "callback_url"},
		{name: "callback credentials", body: `{` + py + `,` + src + `,"callback_url":"http://u:p@93.184.216.34/x"}`, status: 400, field: "callback_url"},
		{name: "idempotency key too long", body: `{` + py + `,` + src + `}`, headers: []string{"Idempotency-Key", strings.Repeat("k", 300)}, status: 400, field: "Idempotency-Key"},
		{name: "bad wait", body: `{` + py + `,` + src + `}`, query: "?wait=maybe", status: 400, field: "wait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.Q.Count()
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			resp := b.Do(t, "POST", "/v1/submissions"+tc.query, tc.body, append([]string{"Content-Type", ct}, tc.headers...)...)
			raw := gatewaytest.WantStatus(t, resp, tc.status)
			if got := resp.Header.Get("Content-Type"); got != "application/problem+json" {
				t.Errorf("content type %q, want problem+json", got)
			}
			var p httpx.Problem
			gatewaytest.DecodeBody(t, resp, &p)
			if p.Status != tc.status || p.Title == "" {
				t.Errorf("problem %s does not carry status and title", raw)
			}
			if tc.field != "" {
				found := false
				for _, fe := range p.Errors {
					found = found || fe.Field == tc.field
				}
				if !found {
					t.Errorf("problem %s does not name field %q", raw, tc.field)
				}
			}
			if b.Q.Count() != before {
				t.Errorf("a rejected request was queued")
			}
		})
	}
	if n := b.Q.Count(); n != 0 {
		t.Fatalf("%d rejected requests were queued", n)
	}
}

func TestCreateGetAndStorageFallback(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	body := map[string]any{
		"language": "py", "version": "3", "source": "print(input())", "stdin": "hi",
		"args": []string{"-x"}, "limits": map[string]any{"cpu_time_ms": 1000}, "priority": "high",
		"metadata": map[string]string{"user": "42"},
	}
	resp := b.Do(t, "POST", "/v1/submissions", body)
	gatewaytest.WantStatus(t, resp, http.StatusCreated)
	var created native.SubmissionCreated
	gatewaytest.DecodeBody(t, resp, &created)
	if !job.ValidID(created.ID) || created.Status != job.StatusQueued {
		t.Fatalf("created = %+v", created)
	}
	if loc := resp.Header.Get("Location"); loc != "/v1/submissions/"+created.ID {
		t.Errorf("Location = %q", loc)
	}
	req := b.Q.Last()
	if req.Language != "python" || req.Version == "" || len(req.Files) != 1 || req.Files[0].Name != "main.py" ||
		req.Stdin != "hi" || req.Limits.CPUTimeMs != 1000 || req.Priority != job.PriorityHigh || req.Metadata["user"] != "42" {
		t.Fatalf("queued request = %+v", req)
	}

	var got native.Submission
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/v1/submissions/"+created.ID, nil), 200), &got)
	if got.ID != created.ID || got.Status != job.StatusQueued || got.Language != "python" {
		t.Fatalf("get = %+v", got)
	}

	b.Q.Finish(created.ID, job.StatusAccepted, "hi\n")
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/v1/submissions/"+created.ID, nil), 200), &got)
	if got.Status != job.StatusAccepted || got.Result == nil || got.Result.Run.Stdout.Text != "hi\n" {
		t.Fatalf("get after finish = %+v", got)
	}

	// Gone from the queue: storage answers.
	s, _ := b.Q.Get(t.Context(), created.ID)
	_ = b.St.Put(t.Context(), []job.Submission{s})
	b.Q.Forget(created.ID)
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/v1/submissions/"+created.ID, nil), 200), &got)
	if got.Status != job.StatusAccepted {
		t.Fatalf("get from storage = %+v", got)
	}

	// Unknown and malformed ids.
	gatewaytest.WantStatus(t, b.Do(t, "GET", "/v1/submissions/"+job.NewID(time.Now()), nil), 404)
	gatewaytest.WantStatus(t, b.Do(t, "GET", "/v1/submissions/..%2Fetc", nil), 404)
}

func TestFilesAndTests(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", map[string]any{
		"language": "python",
		"files": []map[string]string{
			{"content": "import util"},
			{"name": "util.py", "content": "cHJpbnQoMSk=", "encoding": "base64"},
		},
		"tests": []map[string]any{{"stdin": "1", "expected_output": "1"}, {"stdin": "2"}},
	}), 201)
	req := b.Q.Last()
	if len(req.Files) != 2 || req.Files[0].Name != "main.py" || req.Files[1].Encoding != job.EncodingBase64 {
		t.Fatalf("files = %+v", req.Files)
	}
	if len(req.Tests) != 2 || *req.Tests[0].ExpectedOutput != "1" || req.Tests[1].ExpectedOutput != nil {
		t.Fatalf("tests = %+v", req.Tests)
	}

	// A single expected_output is one test case with the stdin.
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", map[string]any{
		"language": "python", "source": "print(input())", "stdin": "x", "expected_output": "x",
	}), 201)
	req = b.Q.Last()
	if len(req.Tests) != 1 || req.Tests[0].Stdin != "x" || *req.Tests[0].ExpectedOutput != "x" || req.Stdin != "" {
		t.Fatalf("expected_output shortcut = %+v", req)
	}

	// A first file named otherwise becomes the entry point.
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", map[string]any{
		"language": "python", "files": []map[string]string{{"name": "solution.py", "content": "print(1)"}},
	}), 201)
	if req = b.Q.Last(); req.Files[0].Name != "main.py" {
		t.Fatalf("entry file = %q", req.Files[0].Name)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	body := map[string]any{"language": "python", "source": "print(1)"}
	var a, c native.SubmissionCreated
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "POST", "/v1/submissions", body, "Idempotency-Key", "abc"), 201), &a)
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "POST", "/v1/submissions", body, "Idempotency-Key", "abc"), 201), &c)
	if a.ID != c.ID || b.Q.Count() != 1 {
		t.Fatalf("same key gave %s and %s (%d queued)", a.ID, c.ID, b.Q.Count())
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	t.Run("finishes", func(t *testing.T) {
		t.Parallel()
		b := gatewaytest.Setup(t, nil)
		b.Q.OnEnqueue(func(id string) {
			b.Q.Start(id)
			b.Q.Finish(id, job.StatusAccepted, "done\n")
		})
		for _, path := range []string{"/v1/submissions?wait=true", "/v1/execute"} {
			resp := b.Do(t, "POST", path, map[string]any{"language": "python", "source": "print('done')"})
			gatewaytest.WantStatus(t, resp, 200)
			var s native.Submission
			gatewaytest.DecodeBody(t, resp, &s)
			if s.Status != job.StatusAccepted || s.Result == nil || s.Result.Run.Stdout.Text != "done\n" {
				t.Fatalf("%s: %+v", path, s)
			}
		}
	})
	t.Run("runs out", func(t *testing.T) {
		t.Parallel()
		b := gatewaytest.Setup(t, func(c *gateway.Config, _ *gateway.Deps) { c.MaxWait = time.Millisecond })
		for _, path := range []string{"/v1/submissions?wait=true", "/v1/execute"} {
			resp := b.Do(t, "POST", path, map[string]any{"language": "python", "source": "print(1)"})
			gatewaytest.WantStatus(t, resp, http.StatusAccepted)
			var s native.SubmissionCreated
			gatewaytest.DecodeBody(t, resp, &s)
			if !job.ValidID(s.ID) || s.Status.Final() {
				t.Fatalf("%s: %+v", path, s)
			}
		}
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	var c native.SubmissionCreated
	gatewaytest.DecodeBody(t, b.Do(t, "POST", "/v1/submissions", map[string]any{"language": "python", "source": "1"}), &c)
	var s native.Submission
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "DELETE", "/v1/submissions/"+c.ID, nil), 200), &s)
	if s.Status != job.StatusCanceled {
		t.Fatalf("cancel = %+v", s)
	}
	var p httpx.Problem
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "DELETE", "/v1/submissions/"+c.ID, nil), 409), &p)
	if p.Code != "final" {
		t.Fatalf("second cancel = %+v", p)
	}
	gatewaytest.WantStatus(t, b.Do(t, "DELETE", "/v1/submissions/"+job.NewID(time.Now()), nil), 404)
}

func TestQueueFullIs503(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	b.Q.SetFull(true)
	resp := b.Do(t, "POST", "/v1/submissions", map[string]any{"language": "python", "source": "1"})
	gatewaytest.WantStatus(t, resp, http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	var p httpx.Problem
	gatewaytest.DecodeBody(t, resp, &p)
	if p.Code != "queue_full" {
		t.Fatalf("problem = %+v", p)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	now := time.Now()
	for i := 0; i < 5; i++ {
		lang := "python"
		if i%2 == 1 {
			lang = "c"
		}
		_ = b.St.Put(t.Context(), []job.Submission{{ID: job.NewID(now.Add(time.Duration(i) * time.Millisecond)),
			Status: job.StatusAccepted, Request: job.Request{Language: lang}, CreatedAt: now}})
	}
	var page native.SubmissionList
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/v1/submissions?limit=2&language=python&status=accepted", nil), 200), &page)
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("page 1 = %+v", page)
	}
	var page2 native.SubmissionList
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/v1/submissions?limit=2&language=python&cursor="+page.NextCursor, nil), 200), &page2)
	if len(page2.Items) != 1 || page2.NextCursor != "" || page2.Items[0].ID >= page.Items[1].ID {
		t.Fatalf("page 2 = %+v", page2)
	}
	f := b.St.Filters()[0]
	if f.Language != "python" || f.Status != job.StatusAccepted || f.Limit != 2 {
		t.Fatalf("filter = %+v", f)
	}
	for _, q := range []string{"limit=0", "limit=1000", "status=done", "since=yesterday"} {
		gatewaytest.WantStatus(t, b.Do(t, "GET", "/v1/submissions?"+q, nil), 400)
	}
}

func TestBatch(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, func(c *gateway.Config, _ *gateway.Deps) { c.MaxBatch = 3 })
	ok := map[string]any{"language": "python", "source": "1"}
	bad := map[string]any{"language": "brainfuck", "source": "1"}
	resp := b.Do(t, "POST", "/v1/submissions/batch", map[string]any{"submissions": []any{ok, bad, ok}})
	gatewaytest.WantStatus(t, resp, 200)
	var out native.BatchResponse
	gatewaytest.DecodeBody(t, resp, &out)
	if len(out.Items) != 3 || out.Items[0].ID == "" || out.Items[2].ID == "" || out.Items[1].Error == nil {
		t.Fatalf("batch = %+v", out)
	}
	if e := out.Items[1].Error; e.Status != 400 || len(e.Errors) == 0 || e.Errors[0].Field != "submissions[1].language" {
		t.Fatalf("item error = %+v", e)
	}
	if b.Q.Count() != 2 {
		t.Fatalf("%d queued, want 2", b.Q.Count())
	}
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions/batch", map[string]any{"submissions": []any{ok, ok, ok, ok}}), 400)
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions/batch", map[string]any{"submissions": []any{}}), 400)
	if b.Q.Count() != 2 {
		t.Fatalf("refused batches queued something")
	}
}

func TestLanguages(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	var out native.LanguageList
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/v1/languages", nil), 200), &out)
	found := map[string]native.LanguageInfo{}
	for _, l := range out.Languages {
		found[l.ID] = l
	}
	if py, ok := found["python"]; !ok || py.SourceFile != "main.py" || py.Compiled || py.Limits.CPUTimeMs == 0 {
		t.Fatalf("python = %+v", py)
	}
	if c := found["c"]; !c.Compiled {
		t.Fatalf("c = %+v", c)
	}
}
