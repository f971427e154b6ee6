package judge0_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway/internal/gatewaytest"
	"github.com/execbox/app/roles/gateway/judge0"
)

// TestCallbackIsPutInJudge0Shape: Judge0 1.13 PUTs its default fields,
// base64-encoded whatever the submission asked (IsolateJob#call_callback).
func TestCallbackIsPutInJudge0Shape(t *testing.T) {
	t.Parallel()
	b, outcomes := gatewaytest.SetupCallbacks(t, 2)
	h := gatewaytest.NewHook(t, 0, 0)
	var tok judge0.Token
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "POST", "/submissions", map[string]any{
		"source_code": "print(1)", "language_id": 71, "callback_url": h.Srv.URL}), 201), &tok)
	b.Q.Finish(job.CanonicalID(tok.Token), job.StatusAccepted, "1\n")
	got := gatewaytest.WaitFor(t, h.Got)
	gatewaytest.WaitFor(t, outcomes)
	var body map[string]any
	_ = json.Unmarshal(got.Body, &body)
	if got.Method != http.MethodPut || body["token"] != tok.Token || body["stdout"] != base64.StdEncoding.EncodeToString([]byte("1\n")) {
		t.Fatalf("%s %s", got.Method, got.Body)
	}
	if len(body) != 8 || body["compile_output"] != nil || body["status"].(map[string]any)["id"].(float64) != 3 {
		t.Fatalf("not Judge0's default fields: %s", got.Body)
	}
	for _, f := range []string{"token", "time", "memory", "stdout", "stderr", "compile_output", "message", "status"} {
		if _, ok := body[f]; !ok {
			t.Fatalf("callback lacks %s: %s", f, got.Body)
		}
	}
}
