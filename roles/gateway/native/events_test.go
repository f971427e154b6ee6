package native_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway"
	"github.com/execbox/app/roles/gateway/internal/gatewaytest"
	"github.com/execbox/app/roles/gateway/native"
)

func TestEventsStreamStatusChangesThenResult(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, func(c *gateway.Config, _ *gateway.Deps) { c.Heartbeat = time.Hour })
	var c native.SubmissionCreated
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "POST", "/v1/submissions", map[string]any{"language": "python", "source": "1"}), 201), &c)

	resp := b.Do(t, "GET", "/v1/submissions/"+c.ID+"/events", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	rd := bufio.NewReader(resp.Body)
	expect := func(name string, status job.Status) native.Submission {
		t.Helper()
		ev := gatewaytest.ReadEvent(t, rd)
		var s native.Submission
		if err := json.Unmarshal([]byte(ev.Data), &s); err != nil {
			t.Fatalf("event %+v: %v", ev, err)
		}
		if ev.Name != name || s.Status != status || s.ID != c.ID {
			t.Fatalf("got event %s %s, want %s %s", ev.Name, s.Status, name, status)
		}
		return s
	}
	expect("status", job.StatusQueued)
	// The stream is pushed by Watch: the handler registered a watcher.
	if b.Q.Watching(c.ID) != 1 {
		t.Fatalf("%d watchers", b.Q.Watching(c.ID))
	}
	b.Q.Start(c.ID)
	expect("status", job.StatusRunning)
	b.Q.Finish(c.ID, job.StatusAccepted, "ok\n")
	s := expect("result", job.StatusAccepted)
	if s.Result == nil || s.Result.Run.Stdout.Text != "ok\n" {
		t.Fatalf("result = %+v", s.Result)
	}
	if _, err := rd.ReadString('\n'); err == nil {
		t.Fatal("stream did not end after the result")
	}
}

func TestEventsHeartbeat(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, func(c *gateway.Config, _ *gateway.Deps) { c.Heartbeat = time.Millisecond })
	var c native.SubmissionCreated
	gatewaytest.DecodeBody(t, b.Do(t, "POST", "/v1/submissions", map[string]any{"language": "python", "source": "1"}), &c)
	resp := b.Do(t, "GET", "/v1/submissions/"+c.ID+"/events", nil)
	rd := bufio.NewReader(resp.Body)
	if ev := gatewaytest.ReadEvent(t, rd); ev.Name != "status" {
		t.Fatalf("first event %+v", ev)
	}
	if ev := gatewaytest.ReadEvent(t, rd); ev.Name != ":" || ev.Data != "keep-alive" {
		t.Fatalf("want a keep-alive comment, got %+v", ev)
	}
}

func TestEventsOfStoredSubmission(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	id := job.NewID(time.Now())
	_ = b.St.Put(t.Context(), []job.Submission{{ID: id, Status: job.StatusWrongAnswer, Request: job.Request{Language: "python"},
		Result: &job.Result{Status: job.StatusWrongAnswer}}})
	resp := b.Do(t, "GET", "/v1/submissions/"+id+"/events", nil)
	gatewaytest.WantStatus(t, resp, http.StatusOK)
	rd := bufio.NewReader(resp.Body)
	if ev := gatewaytest.ReadEvent(t, rd); ev.Name != "result" || !strings.Contains(ev.Data, `"wrong_answer"`) {
		t.Fatalf("event %+v", ev)
	}
	gatewaytest.WantStatus(t, b.Do(t, "GET", "/v1/submissions/"+job.NewID(time.Now())+"/events", nil), 404)
}
