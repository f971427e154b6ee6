package judge0_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway/internal/gatewaytest"
	"github.com/execbox/app/roles/gateway/judge0"
)

// defaultFields are the fields Judge0 answers when the client names none.
var defaultFields = []string{"token", "stdout", "stderr", "compile_output", "message", "status", "time", "memory"}

func TestJudge0SubmitAndGet(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	// Unknown fields are ignored, as Judge0 does.
	resp := b.Do(t, "POST", "/submissions?base64_encoded=true", map[string]any{
		"source_code": gatewaytest.B64("print(input())"), "language_id": 71, "stdin": gatewaytest.B64("héllo"),
		"cpu_time_limit": 1.5, "memory_limit": 65536, "command_line_arguments": `a "b c"`, "redirect_stderr_to_stdout": true,
		"some_future_field": 1,
	})
	gatewaytest.WantStatus(t, resp, 201)
	var tok judge0.Token
	gatewaytest.DecodeBody(t, resp, &tok)
	req := b.Q.Last()
	if req.Language != "python" || req.Files[0].Encoding != job.EncodingBase64 || req.Stdin != "héllo" ||
		req.Limits.CPUTimeMs != 1500 || req.Limits.MemoryKB != 65536 || strings.Join(req.Args, "|") != "a|b c" {
		t.Fatalf("queued %+v", req)
	}
	if src, _ := req.Files[0].Bytes(); string(src) != "print(input())" {
		t.Fatalf("source %q", src)
	}
	// What Judge0 asks back is kept in the request's Compat, not in the
	// client's metadata, which the native API shows.
	if want := (job.Compat{API: "judge0", LanguageID: 71, Base64: true, CommandLine: `a "b c"`, RedirectStderr: true}); req.Compat != want || req.Metadata != nil {
		t.Fatalf("compat %+v, metadata %v", req.Compat, req.Metadata)
	}
	var native map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/v1/submissions/"+tok.Token, nil), 200), &native)
	if _, ok := native["metadata"]; ok {
		t.Fatalf("native API shows metadata %v", native["metadata"])
	}

	// In queue.
	var got map[string]any
	got = nil
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/submissions/"+tok.Token, nil), 200), &got)
	if st := got["status"].(map[string]any); st["id"].(float64) != 1 || st["description"] != "In Queue" {
		t.Fatalf("status %v", got["status"])
	}
	if len(got) != len(defaultFields) {
		t.Fatalf("default fields: %v", got)
	}

	// Finished: base64 round trip and fields filtering.
	b.Q.Finish(job.CanonicalID(tok.Token), job.StatusAccepted, "héllo\n")
	got = nil
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/submissions/"+tok.Token+"?base64_encoded=true&fields=stdout,status,time,memory,exit_code", nil), 200), &got)
	if got["stdout"] != gatewaytest.B64("héllo\n") || got["time"] != "0.012" || got["memory"].(float64) != 2048 || got["exit_code"].(float64) != 0 {
		t.Fatalf("got %v", got)
	}
	if len(got) != 5 {
		t.Fatalf("fields not filtered: %v", got)
	}
	got = nil
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/submissions/"+tok.Token, nil), 200), &got)
	if got["stdout"] != "héllo\n" || got["status"].(map[string]any)["id"].(float64) != 3 {
		t.Fatalf("plain %v", got)
	}
	got = nil
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/submissions/"+tok.Token+"?fields=*&base64_encoded=true", nil), 200), &got)
	if got["source_code"] != gatewaytest.B64("print(input())") || got["language_id"].(float64) != 71 || got["token"] != tok.Token {
		t.Fatalf("all fields %v", got)
	}
	gatewaytest.WantStatus(t, b.Do(t, "GET", "/submissions/"+tok.Token+"?fields=stdout,bogus", nil), 400)
}

func TestJudge0BinaryOutputNeedsBase64(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	var tok judge0.Token
	gatewaytest.DecodeBody(t, b.Do(t, "POST", "/submissions", map[string]any{"source_code": "x", "language_id": 71}), &tok)
	b.Q.CompleteWith(job.CanonicalID(tok.Token), job.Result{Status: job.StatusAccepted,
		Run: &job.Step{Verdict: job.StatusAccepted, Stdout: job.NewOutput([]byte{0xff, 0x00, 'a'}, false)}})
	raw := gatewaytest.WantStatus(t, b.Do(t, "GET", "/submissions/"+tok.Token, nil), 400)
	if !strings.Contains(string(raw), "base64_encoded=true") {
		t.Fatalf("body %s", raw)
	}
	var got map[string]any
	got = nil
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/submissions/"+tok.Token+"?base64_encoded=true", nil), 200), &got)
	if got["stdout"] != base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 'a'}) {
		t.Fatalf("stdout %v", got["stdout"])
	}
}

func TestJudge0Validation(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	for _, tc := range []struct {
		name, query string
		body        map[string]any
		field       string
	}{
		{"unknown language", "", map[string]any{"source_code": "x", "language_id": 99999}, "language_id"},
		{"no language", "", map[string]any{"source_code": "x"}, "language_id"},
		{"blank source", "", map[string]any{"source_code": "", "language_id": 71}, "source_code"},
		{"bad base64", "?base64_encoded=true", map[string]any{"source_code": "!!", "language_id": 71}, "source_code"},
		{"cpu limit too high", "", map[string]any{"source_code": "x", "language_id": 71, "cpu_time_limit": 1000}, "cpu_time_limit"},
		{"memory limit too high", "", map[string]any{"source_code": "x", "language_id": 71, "memory_limit": 1e12}, "memory_limit"},
		{"network", "", map[string]any{"source_code": "x", "language_id": 71, "enable_network": true}, "enable_network"},
		{"callback", "", map[string]any{"source_code": "x", "language_id": 71, "callback_url": "http://127.0.0.1/"}, "callback_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.Do(t, "POST", "/submissions"+tc.query, tc.body)
			gatewaytest.WantStatus(t, resp, http.StatusUnprocessableEntity)
			var errs map[string][]string
			gatewaytest.DecodeBody(t, resp, &errs)
			if len(errs[tc.field]) == 0 {
				t.Fatalf("errors %v do not name %s", errs, tc.field)
			}
		})
	}
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/submissions", "{", "Content-Type", "application/json"), 400)
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/submissions", `{"source_code":"x","language_id":"seventy"}`), 400)
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/submissions", `{"source_code":"x"}`, "Content-Type", "text/plain"), 415)
	if b.Q.Count() != 0 {
		t.Fatal("invalid Judge0 submissions were queued")
	}
	// Judge0 accepts the language id as a string too.
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/submissions", `{"source_code":"x","language_id":"71"}`), 201)
	if b.Q.Last().Language != "python" {
		t.Fatalf("language %q", b.Q.Last().Language)
	}
}

func TestJudge0WaitBatchAndDelete(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	b.Q.OnEnqueue(func(id string) { b.Q.Finish(id, job.StatusAccepted, "42\n") })
	var got map[string]any
	got = nil
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "POST", "/submissions?wait=true", map[string]any{"source_code": "print(42)", "language_id": 71}), 201), &got)
	if got["stdout"] != "42\n" || got["status"].(map[string]any)["description"] != "Accepted" {
		t.Fatalf("wait %v", got)
	}

	b.Q.OnEnqueue(nil)
	resp := b.Do(t, "POST", "/submissions/batch", map[string]any{"submissions": []any{
		map[string]any{"source_code": "1", "language_id": 71},
		map[string]any{"source_code": "1", "language_id": 424242},
	}})
	gatewaytest.WantStatus(t, resp, 201)
	var items []map[string]any
	gatewaytest.DecodeBody(t, resp, &items)
	if len(items) != 2 || items[0]["token"] == nil || items[1]["language_id"] == nil {
		t.Fatalf("batch %v", items)
	}
	token := items[0]["token"].(string)
	var batch struct {
		Submissions []map[string]any `json:"submissions"`
	}
	got = nil
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/submissions/batch?tokens="+token+",00000000-0000-7000-8000-000000000000&fields=token,status", nil), 200), &batch)
	if len(batch.Submissions) != 2 || batch.Submissions[0]["token"] != token || batch.Submissions[1] != nil {
		t.Fatalf("batch get %v", batch)
	}
	got = nil
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "DELETE", "/submissions/"+token+"?fields=status", nil), 200), &got)
	if got["status"].(map[string]any)["id"].(float64) != 13 {
		t.Fatalf("delete %v", got)
	}
	// Deleting a finished submission answers it unchanged.
	gatewaytest.WantStatus(t, b.Do(t, "DELETE", "/submissions/"+token, nil), 200)
}

func TestJudge0Metadata(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	var statuses []judge0.Status
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/statuses", nil), 200), &statuses)
	if len(statuses) != 14 || statuses[0] != (judge0.Status{1, "In Queue"}) || statuses[13] != (judge0.Status{14, "Exec Format Error"}) {
		t.Fatalf("statuses %v", statuses)
	}
	var langs []judge0.Language
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/languages", nil), 200), &langs)
	found := false
	for i, l := range langs {
		found = found || (l.ID == 71 && strings.HasPrefix(l.Name, "Python"))
		if i > 0 && langs[i-1].ID >= l.ID {
			t.Fatalf("languages not sorted by id: %v", langs)
		}
	}
	if !found {
		t.Fatalf("no Python 71 in %v", langs)
	}
	var lang judge0.LanguageDetail
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/languages/50", nil), 200), &lang)
	if lang.CompileCmd == nil || lang.SourceFile != "main.c" || lang.RunCmd == "" {
		t.Fatalf("language 50 %+v", lang)
	}
	gatewaytest.WantStatus(t, b.Do(t, "GET", "/languages/1", nil), 404)
	var about judge0.About
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/about", nil), 200), &about)
	if about.Version == "" {
		t.Fatal("about has no version")
	}
	var info map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/config_info", nil), 200), &info)
	if info["enable_wait_result"] != true || info["max_submission_batch_size"].(float64) != 20 {
		t.Fatalf("config_info %v", info)
	}
}
