package queue

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
	"github.com/execbox/app/pkg/outage"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/queue/queuehttp"
)

type api struct {
	q       queue.Queue
	maxWait time.Duration
	log     *slog.Logger
}

func newAPI(q queue.Queue, hub live.Hub, maxWait time.Duration, log *slog.Logger) http.Handler {
	a := &api{q: q, maxWait: maxWait, log: log}
	mux := http.NewServeMux()
	a.mountLive(mux, hub)
	mux.HandleFunc("POST /queue/v1/jobs", a.enqueue)
	mux.HandleFunc("GET /queue/v1/jobs/{id}", a.get)
	mux.HandleFunc("POST /queue/v1/jobs/{id}/cancel", a.cancel)
	mux.HandleFunc("GET /queue/v1/jobs/{id}/watch", a.watch)
	mux.HandleFunc("POST /queue/v1/leases", a.lease)
	mux.HandleFunc("POST /queue/v1/leases/extend", a.extend)
	mux.HandleFunc("POST /queue/v1/leases/complete", a.complete)
	mux.HandleFunc("POST /queue/v1/leases/release", a.release)
	mux.HandleFunc("POST /queue/v1/leases/retry", a.retry)
	mux.HandleFunc("POST /queue/v1/leases/fail", a.failLease)
	mux.HandleFunc("GET /queue/v1/dead-letters", a.deadLetters)
	mux.HandleFunc("POST /queue/v1/dead-letters/{id}/requeue", a.requeue)
	mux.HandleFunc("GET /queue/v1/stats", a.stats)
	mux.HandleFunc("POST /queue/v1/callbacks/read", a.readCallbacks)
	mux.HandleFunc("POST /queue/v1/callbacks/ack", a.ackCallbacks)
	mux.HandleFunc("PUT /queue/v1/jobs/{id}/callback", a.recordCallback)
	mux.HandleFunc("/queue/v1/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusNotFound, Title: "no such queue API route", Code: queuehttp.CodeNotFound})
	})
	return mux
}

// fail maps a queue error to its problem through queuehttp's table, the
// one Client maps back to the sentinel errors.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	p, ok := queuehttp.Problem(err)
	switch {
	case ok:
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the caller left
	default:
		httpx.Logger(r.Context(), a.log).Error("queue operation failed", "err", err)
		dep, ok := outage.Of(err)
		if !ok {
			dep = "the queue"
		}
		p = httpx.UnavailableProblem(dep)
	}
	httpx.WriteProblem(w, r, p)
}

func (a *api) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := httpx.DecodeJSON(w, r, v, queuehttp.MaxBody); err != nil {
		var p *httpx.Problem
		if errors.As(err, &p) {
			httpx.WriteProblem(w, r, *p)
		} else {
			httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusBadRequest, Title: "bad request", Detail: err.Error()})
		}
		return false
	}
	return true
}

func (a *api) enqueue(w http.ResponseWriter, r *http.Request) {
	var req job.Request
	if !a.decode(w, r, &req) {
		return
	}
	if !req.Priority.Valid() {
		httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusBadRequest, Title: "invalid request", Code: queuehttp.CodeInvalid,
			Errors: []httpx.FieldError{{Field: "priority", Message: "must be high, normal or low"}}})
		return
	}
	s, err := a.q.Enqueue(r.Context(), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, s)
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	s, err := a.q.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, s)
}

func (a *api) cancel(w http.ResponseWriter, r *http.Request) {
	s, err := a.q.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, s)
}

// watch streams the submission as JSON lines (application/x-ndjson), one per
// change, ending after the final status.
func (a *api) watch(w http.ResponseWriter, r *http.Request) {
	ch, err := a.q.Watch(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	for s := range ch {
		if err := enc.Encode(s); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

func (a *api) lease(w http.ResponseWriter, r *http.Request) {
	var req queuehttp.LeaseRequest
	if !a.decode(w, r, &req) {
		return
	}
	wait := min(time.Duration(req.WaitMs)*time.Millisecond, a.maxWait)
	l, err := a.q.Lease(r.Context(), req.Worker, wait)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if l == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Context().Err() != nil {
		// The worker gave up waiting (shutting down): hand the job back now
		// rather than let it wait out the lease as a failed delivery.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		defer cancel()
		if err := a.q.Release(ctx, l); err != nil {
			httpx.Logger(r.Context(), a.log).Warn("release of an unclaimed lease failed", "id", l.Job.ID, "err", err)
		}
		return
	}
	httpx.WriteJSON(w, http.StatusOK, l)
}

func ref(id, token string) *queue.Lease { return &queue.Lease{Job: job.Job{ID: id}, Token: token} }

func (a *api) extend(w http.ResponseWriter, r *http.Request) {
	var req queuehttp.LeaseRef
	if !a.decode(w, r, &req) {
		return
	}
	l := ref(req.ID, req.Token)
	if err := a.q.Extend(r.Context(), l); err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, queuehttp.ExtendResponse{ExpiresAt: l.ExpiresAt})
}

func (a *api) complete(w http.ResponseWriter, r *http.Request) {
	var req queuehttp.CompleteRequest
	if !a.decode(w, r, &req) {
		return
	}
	if !req.Result.Status.Final() {
		httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusBadRequest, Title: "invalid result", Code: queuehttp.CodeInvalid,
			Errors: []httpx.FieldError{{Field: "result.status", Message: "must be a final status"}}})
		return
	}
	if err := a.q.Complete(r.Context(), ref(req.ID, req.Token), req.Result); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) release(w http.ResponseWriter, r *http.Request) {
	var req queuehttp.LeaseRef
	if !a.decode(w, r, &req) {
		return
	}
	if err := a.q.Release(r.Context(), ref(req.ID, req.Token)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// maxRetryDelay bounds a retry's back-off as the API accepts it.
const maxRetryDelay = time.Hour

func (a *api) retry(w http.ResponseWriter, r *http.Request) {
	var req queuehttp.RetryRequest
	if !a.decode(w, r, &req) {
		return
	}
	if req.AfterMs < 0 || time.Duration(req.AfterMs)*time.Millisecond > maxRetryDelay {
		httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusBadRequest, Title: "invalid retry", Code: queuehttp.CodeInvalid,
			Errors: []httpx.FieldError{{Field: "after_ms", Message: "must be between 0 and 3600000"}}})
		return
	}
	if err := a.q.Retry(r.Context(), ref(req.ID, req.Token), req.Attempt, time.Duration(req.AfterMs)*time.Millisecond); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) failLease(w http.ResponseWriter, r *http.Request) {
	var req queuehttp.FailRequest
	if !a.decode(w, r, &req) {
		return
	}
	if !req.Result.Status.Final() {
		httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusBadRequest, Title: "invalid result", Code: queuehttp.CodeInvalid,
			Errors: []httpx.FieldError{{Field: "result.status", Message: "must be a final status"}}})
		return
	}
	if err := a.q.Fail(r.Context(), ref(req.ID, req.Token), req.Attempt, req.Result); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) deadLetters(w http.ResponseWriter, r *http.Request) {
	subs, err := a.q.DeadLetters(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if subs == nil {
		subs = []job.Submission{}
	}
	httpx.WriteJSON(w, http.StatusOK, subs)
}

func (a *api) requeue(w http.ResponseWriter, r *http.Request) {
	if err := a.q.Requeue(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// maxFeedRead bounds one read of a feed.
const maxFeedRead = 1000

func (a *api) readCallbacks(w http.ResponseWriter, r *http.Request) {
	var req queuehttp.FeedReadRequest
	if !a.decode(w, r, &req) {
		return
	}
	if req.Consumer == "" || req.Max < 0 || req.Max > maxFeedRead || req.BlockMs < 0 {
		httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusBadRequest, Title: "invalid read", Code: queuehttp.CodeInvalid,
			Errors: []httpx.FieldError{{Field: "consumer, max, block_ms", Message: "need a consumer, max between 0 and 1000 and block_ms >= 0"}}})
		return
	}
	block := min(time.Duration(req.BlockMs)*time.Millisecond, a.maxWait)
	items, err := a.q.ReadCallbacks(r.Context(), req.Consumer, req.Max, block, req.Resume)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if items == nil {
		items = []queue.FeedItem{}
	}
	httpx.WriteJSON(w, http.StatusOK, items)
}

func (a *api) ackCallbacks(w http.ResponseWriter, r *http.Request) {
	var req queuehttp.FeedAckRequest
	if !a.decode(w, r, &req) {
		return
	}
	if err := a.q.AckCallbacks(r.Context(), req.IDs...); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) recordCallback(w http.ResponseWriter, r *http.Request) {
	var st job.CallbackState
	if !a.decode(w, r, &st) {
		return
	}
	switch st.Status {
	case job.CallbackPending, job.CallbackDelivered, job.CallbackFailed:
	default:
		httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusBadRequest, Title: "invalid callback state", Code: queuehttp.CodeInvalid,
			Errors: []httpx.FieldError{{Field: "status", Message: "must be pending, delivered or failed"}}})
		return
	}
	if err := a.q.RecordCallback(r.Context(), r.PathValue("id"), st); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	st, err := a.q.Stats(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, st)
}
