package queue

import (
	"net/http"
	"strconv"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/live"
	"github.com/execbox/app/pkg/queue/queuehttp"
)

// liveAPI serves the queue's live streams (queuehttp/live.go has the routes).
type liveAPI struct {
	*api
	hub live.Hub
}

func (a *api) mountLive(mux *http.ServeMux, hub live.Hub) {
	if hub == nil {
		return
	}
	l := &liveAPI{api: a, hub: hub}
	mux.HandleFunc("POST /queue/v1/live/{id}/output", l.publish)
	mux.HandleFunc("GET /queue/v1/live/{id}/output", l.output)
	mux.HandleFunc("POST /queue/v1/live/{id}/input", l.sendInput)
	mux.HandleFunc("GET /queue/v1/live/{id}/input", l.input)
}

func (l *liveAPI) wait(r *http.Request) time.Duration {
	ms, _ := strconv.ParseInt(r.URL.Query().Get("wait_ms"), 10, 64)
	return min(max(time.Duration(ms)*time.Millisecond, 0), l.maxWait)
}

func (l *liveAPI) publish(w http.ResponseWriter, r *http.Request) {
	var evs []live.Event
	if !l.decode(w, r, &evs) {
		return
	}
	if err := l.hub.Publish(r.Context(), r.PathValue("id"), evs...); err != nil {
		l.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (l *liveAPI) sendInput(w http.ResponseWriter, r *http.Request) {
	var in live.Input
	if !l.decode(w, r, &in) {
		return
	}
	if err := l.hub.SendInput(r.Context(), r.PathValue("id"), in); err != nil {
		l.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (l *liveAPI) output(w http.ResponseWriter, r *http.Request) {
	evs, cur, err := l.hub.Output(r.Context(), r.PathValue("id"), r.URL.Query().Get("cursor"), l.wait(r))
	if err != nil {
		l.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, queuehttp.LiveEvents{Events: evs, Cursor: cur})
}

func (l *liveAPI) input(w http.ResponseWriter, r *http.Request) {
	ins, cur, err := l.hub.Input(r.Context(), r.PathValue("id"), r.URL.Query().Get("cursor"), l.wait(r))
	if err != nil {
		l.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, queuehttp.LiveInputs{Inputs: ins, Cursor: cur})
}
