package gateway

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
)

// sseEvent is one Server-Sent Event (or a comment when name is ":").
type sseEvent struct {
	name string
	data string
}

// readEvent reads the next event or comment from an SSE stream.
func readEvent(t *testing.T, rd *bufio.Reader) sseEvent {
	t.Helper()
	var ev sseEvent
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v (partial %+v)", err, ev)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.name != "" {
				return ev
			}
		case strings.HasPrefix(line, ":"):
			return sseEvent{name: ":", data: strings.TrimSpace(line[1:])}
		case strings.HasPrefix(line, "event: "):
			ev.name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[len("data: "):]
		}
	}
}

func TestEventsStreamStatusChangesThenResult(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config, _ *Deps) { c.Heartbeat = time.Hour })
	var c SubmissionCreated
	decodeBody(t, wantStatusResp(t, b.do(t, "POST", "/v1/submissions", map[string]any{"language": "python", "source": "1"}), 201), &c)

	resp := b.do(t, "GET", "/v1/submissions/"+c.ID+"/events", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	rd := bufio.NewReader(resp.Body)
	expect := func(name string, status job.Status) Submission {
		t.Helper()
		ev := readEvent(t, rd)
		var s Submission
		if err := json.Unmarshal([]byte(ev.data), &s); err != nil {
			t.Fatalf("event %+v: %v", ev, err)
		}
		if ev.name != name || s.Status != status || s.ID != c.ID {
			t.Fatalf("got event %s %s, want %s %s", ev.name, s.Status, name, status)
		}
		return s
	}
	expect("status", job.StatusQueued)
	// The stream is pushed by Watch: the handler registered a watcher.
	if b.q.watching(c.ID) != 1 {
		t.Fatalf("%d watchers", b.q.watching(c.ID))
	}
	b.q.set(c.ID, job.StatusRunning, nil)
	expect("status", job.StatusRunning)
	finish(b.q, c.ID, job.StatusAccepted, "ok\n")
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
	b := setup(t, func(c *Config, _ *Deps) { c.Heartbeat = time.Millisecond })
	var c SubmissionCreated
	decodeBody(t, b.do(t, "POST", "/v1/submissions", map[string]any{"language": "python", "source": "1"}), &c)
	resp := b.do(t, "GET", "/v1/submissions/"+c.ID+"/events", nil)
	rd := bufio.NewReader(resp.Body)
	if ev := readEvent(t, rd); ev.name != "status" {
		t.Fatalf("first event %+v", ev)
	}
	if ev := readEvent(t, rd); ev.name != ":" || ev.data != "keep-alive" {
		t.Fatalf("want a keep-alive comment, got %+v", ev)
	}
}

func TestEventsOfStoredSubmission(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	id := job.NewID(time.Now())
	_ = b.st.Put(t.Context(), []job.Submission{{ID: id, Status: job.StatusWrongAnswer, Request: job.Request{Language: "python"},
		Result: &job.Result{Status: job.StatusWrongAnswer}}})
	resp := b.do(t, "GET", "/v1/submissions/"+id+"/events", nil)
	wantStatus(t, resp, http.StatusOK)
	rd := bufio.NewReader(resp.Body)
	if ev := readEvent(t, rd); ev.name != "result" || !strings.Contains(ev.data, `"wrong_answer"`) {
		t.Fatalf("event %+v", ev)
	}
	wantStatus(t, b.do(t, "GET", "/v1/submissions/"+job.NewID(time.Now())+"/events", nil), 404)
}
