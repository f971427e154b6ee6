package executor

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/executor/executorhttp"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
)

// liveEventsBuffer bounds the events a live answer holds while its reader
// (the worker) is slow; beyond it events are dropped, never the sandbox
// slowed (the offsets of the next events say how much is missing).
const liveEventsBuffer = 256

// liveRuns serves live runs (executorhttp/live.go has the protocol) and
// routes inputs to the interactive jobs running here.
type liveRuns struct {
	ex  runner
	log *slog.Logger

	mu     sync.Mutex
	inputs map[string]chan live.Input
}

func newLiveRuns(ex runner, log *slog.Logger) *liveRuns {
	return &liveRuns{ex: ex, log: log, inputs: map[string]chan live.Input{}}
}

// run runs j and answers its frames as they come.
func (l *liveRuns) run(w http.ResponseWriter, r *http.Request, j job.Job) {
	events := make(chan live.Event, liveEventsBuffer)
	sink := func(ev live.Event) {
		select {
		case events <- ev:
		default:
		}
	}
	var in chan live.Input
	if j.Request.Interactive != nil {
		in = make(chan live.Input, 64)
		l.mu.Lock()
		l.inputs[j.ID] = in
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			delete(l.inputs, j.ID)
			l.mu.Unlock()
		}()
	}
	type outcome struct {
		res job.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := l.ex.ExecuteLive(r.Context(), j, live.IO{Output: sink, Input: in})
		done <- outcome{res, err}
	}()
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	started := false
	send := func(f executorhttp.LiveFrame) {
		if !started {
			w.Header().Set("Content-Type", executorhttp.NDJSON)
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		if enc.Encode(f) == nil {
			_ = rc.Flush()
		}
	}
	for {
		select {
		case ev := <-events:
			send(executorhttp.LiveFrame{Event: &ev})
		case o := <-done:
			for drained := false; !drained; {
				select {
				case ev := <-events:
					send(executorhttp.LiveFrame{Event: &ev})
				default:
					drained = true
				}
			}
			var busy *executor.BusyError
			switch {
			case o.err == nil:
				send(executorhttp.LiveFrame{Result: &o.res})
			case started:
				send(executorhttp.LiveFrame{Error: o.err.Error()})
			case errors.As(o.err, &busy):
				httpx.WriteProblem(w, r, executorhttp.BusyProblem(busy))
			default:
				httpx.Logger(r.Context(), l.log).Warn("job not run", "job", j.ID, "err", o.err)
				httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusServiceUnavailable, Title: "job not run", Code: executorhttp.CodeNotRun,
					Detail: o.err.Error()})
			}
			return
		}
	}
}

// input hands one input to the running job (waiting while its buffer is
// full: stdin is never dropped).
func (l *liveRuns) input(w http.ResponseWriter, r *http.Request) {
	var m live.Input
	if err := httpx.DecodeJSON(w, r, &m, 2*live.MaxInput); err != nil {
		httpx.WriteProblem(w, r, *err.(*httpx.Problem))
		return
	}
	l.mu.Lock()
	in := l.inputs[r.PathValue("id")]
	l.mu.Unlock()
	if in == nil {
		httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusNotFound, Title: "no such interactive job running here"})
		return
	}
	select {
	case in <- m:
		w.WriteHeader(http.StatusNoContent)
	case <-r.Context().Done():
	}
}
