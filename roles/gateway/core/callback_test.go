package core_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway/internal/gatewaytest"
	"github.com/execbox/app/roles/gateway/native"
)

func TestCallbackDeliveredWithRetries(t *testing.T) {
	t.Parallel()
	b, outcomes := gatewaytest.SetupCallbacks(t, 4)
	h := gatewaytest.NewHook(t, 2, http.StatusServiceUnavailable)
	var c native.SubmissionCreated
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "POST", "/v1/submissions", map[string]any{
		"language": "python", "source": "print(1)", "callback_url": h.Srv.URL + "/hook"}), 201), &c)
	b.Q.Start(c.ID)
	b.Q.Finish(c.ID, job.StatusAccepted, "1\n")
	got := gatewaytest.WaitFor(t, h.Got)
	if o := gatewaytest.WaitFor(t, outcomes); o != "delivered" {
		t.Fatalf("outcome %s", o)
	}
	if got.Method != http.MethodPost || got.ID != c.ID || h.Requests.Load() != 3 {
		t.Fatalf("%s after %d requests, id %s", got.Method, h.Requests.Load(), got.ID)
	}
	var s native.Submission
	if err := json.Unmarshal(got.Body, &s); err != nil {
		t.Fatal(err)
	}
	if s.ID != c.ID || s.Status != job.StatusAccepted || s.Result.Run.Stdout.Text != "1\n" {
		t.Fatalf("callback body %s", got.Body)
	}
}

func TestCallbackGivesUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		status   int
		attempts int32
	}{
		{"retries are bounded", http.StatusInternalServerError, 3},
		{"client errors are not retried", http.StatusBadRequest, 1},
		{"redirects are not followed", http.StatusFound, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, outcomes := gatewaytest.SetupCallbacks(t, 3)
			h := gatewaytest.NewHook(t, 100, tc.status)
			var c native.SubmissionCreated
			gatewaytest.DecodeBody(t, b.Do(t, "POST", "/v1/submissions", map[string]any{
				"language": "python", "source": "1", "callback_url": h.Srv.URL}), &c)
			b.Q.Finish(c.ID, job.StatusAccepted, "")
			if o := gatewaytest.WaitFor(t, outcomes); o != "failed" {
				t.Fatalf("outcome %s", o)
			}
			if n := h.Requests.Load(); n != tc.attempts {
				t.Fatalf("%d requests, want %d", n, tc.attempts)
			}
		})
	}
}
