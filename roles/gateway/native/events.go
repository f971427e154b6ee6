package native

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway/core"
)

// handleEvents streams a submission as Server-Sent Events: an event
// "status" for every state the queue reports (pushed by queue.Watch, not
// polled), then an event "result" with the final submission, after which
// the stream ends. Comment lines every Heartbeat keep proxies from closing
// an idle stream. A submission that already left the queue gets its
// result at once.
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

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(s job.Submission) bool {
		event := "status"
		if s.Status.Final() {
			event = "result"
		}
		b, _ := json.Marshal(toSubmission(s))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(first) || first.Status.Final() {
		if first.Status.Final() {
			a.svc.Finished(c, id)
		}
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
			if s.Status == last && !s.Status.Final() {
				continue
			}
			last = s.Status
			if !send(s) || s.Status.Final() {
				if s.Status.Final() {
					a.svc.Finished(c, id)
				}
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
