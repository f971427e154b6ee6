package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
	"github.com/execbox/app/roles/gateway/core"
)

// OutputEvent is the data of an SSE "output" event: one chunk of the
// program's output as it was written.
type OutputEvent struct {
	Seq    int64  `json:"seq"`
	Step   string `json:"step"`
	Test   int    `json:"test"`
	Stream string `json:"stream"`
	Data   string `json:"data"`
}

// OutputGap is the data of an SSE "output_gap" event: output that was
// dropped for a slow reader or trimmed from the buffer.
type OutputGap struct {
	DroppedBytes int64 `json:"dropped_bytes"`
}

// handleEvents streams a submission as Server-Sent Events: an event
// "status" for every state the queue reports (pushed by queue.Watch, not
// polled), an event "output" for every chunk of output while it runs
// ("output_gap" where output is missing), then an event "result" with the
// final submission, after which the stream ends. Comment lines every
// Heartbeat keep proxies from closing an idle stream. A submission that
// already finished gets its buffered output, if any, and its result at once.
func (a *API) handleEvents(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	c := core.CallerFrom(ctx)
	id := req.PathValue("id")
	first, ch, err := a.svc.Follow(ctx, c, id)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return // the client left before the state was known
		}
		a.svc.WriteError(w, req, err, api)
		return
	}
	id = first.ID

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	event := func(name string, v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	send := func(s job.Submission) bool {
		name := "status"
		if s.Status.Final() {
			name = "result"
		}
		return event(name, toSubmission(s))
	}
	sendLive := func(ev live.Event) bool {
		switch ev.Kind {
		case live.KindOutput:
			return event("output", OutputEvent{Seq: ev.Seq, Step: ev.Step, Test: ev.Test, Stream: ev.Stream, Data: ev.Data})
		case core.KindGap:
			return event("output_gap", OutputGap{DroppedBytes: ev.Size})
		}
		return true
	}
	liveCtx, stopLive := context.WithCancel(ctx)
	defer stopLive()
	final := make(chan struct{})
	out := make(chan live.Event, 16)
	go a.svc.StreamOutput(liveCtx, id, final, out)
	pending := out // nil once the output ended
	// finish sends what output is left, then the result.
	finish := func(s job.Submission) {
		close(final)
		if pending != nil {
			for ev := range pending {
				if !sendLive(ev) {
					return
				}
			}
		}
		if send(s) {
			a.svc.Finished(c, id)
		}
	}
	if first.Status.Final() {
		finish(first)
		return
	}
	if !send(first) {
		return
	}
	tick := time.NewTicker(a.svc.Config().Heartbeat)
	defer tick.Stop()
	last := first.Status
	for {
		select {
		case s, ok := <-ch:
			if !ok {
				if ctx.Err() == nil {
					// The watch ended without a final status (the queue
					// connection broke): say so; EventSource clients
					// reconnect by themselves.
					fmt.Fprintf(w, "event: error\ndata: {\"detail\":\"event stream from the queue ended; reconnect\"}\n\n")
					_ = rc.Flush()
				}
				return
			}
			if s.Status.Final() {
				finish(s)
				return
			}
			if s.Status == last {
				continue
			}
			last = s.Status
			if !send(s) {
				return
			}
		case ev, ok := <-pending:
			if !ok {
				pending = nil // the end event came; the result follows from the watch
				continue
			}
			if !sendLive(ev) {
				return
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}
