package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/store"
)

// What the three APIs share: decoding, enqueueing with the per-key caps,
// waiting and looking submissions up.

// decode reads a JSON body with the configured size limit, answering the
// problem itself (413, 415, 400) and reporting false on failure.
func (r *Role) decode(w http.ResponseWriter, req *http.Request, v any, api string) bool {
	err := httpx.DecodeJSON(w, req, v, r.cfg.MaxBodyBytes)
	if err == nil {
		return true
	}
	var p *httpx.Problem
	if !errors.As(err, &p) {
		p = &httpx.Problem{Status: http.StatusBadRequest, Title: "malformed JSON", Detail: err.Error()}
	}
	reason := "malformed_json"
	switch p.Status {
	case http.StatusRequestEntityTooLarge:
		reason, p.Code = "body_too_large", "body_too_large"
	case http.StatusUnsupportedMediaType:
		reason, p.Code = "unsupported_media_type", "unsupported_media_type"
	default:
		if p.Title == "unknown field" {
			reason = "unknown_field"
		}
		p.Code = reason
	}
	r.metrics.rejected.WithLabelValues(reason).Inc()
	writeProblem(w, req, *p, api)
	return false
}

// invalid answers a request whose fields failed validation.
func (r *Role) invalid(w http.ResponseWriter, req *http.Request, errs []httpx.FieldError, api string) {
	r.metrics.rejected.WithLabelValues("invalid_request").Inc()
	writeProblem(w, req, *validationProblem(errs), api)
}

// callbackFormat says how a submission's callback is rendered.
type callbackFormat struct {
	api    string
	base64 bool // Judge0: base64_encoded was set on the submission
}

// enqueue queues a validated request under the caller's in-flight cap and
// registers its callback.
func (r *Role) enqueue(ctx context.Context, c caller, jr job.Request, format callbackFormat) (job.Submission, error) {
	max := r.cfg.MaxInFlight
	if err := r.inflight.reserve(ctx, r.queue, c.limitKey, 1, max); err != nil {
		return job.Submission{}, err
	}
	if jr.CallbackURL != "" && !r.cb.reserve() {
		r.inflight.release(c.limitKey, 1, max)
		return job.Submission{}, errCallbacksFull
	}
	sub, err := r.queue.Enqueue(ctx, jr)
	if err != nil {
		r.inflight.release(c.limitKey, 1, max)
		if jr.CallbackURL != "" {
			r.cb.unreserve()
		}
		return job.Submission{}, err
	}
	r.inflight.commit(c.limitKey, sub.ID, max)
	if jr.CallbackURL != "" {
		r.cb.add(callbackItem{id: sub.ID, url: jr.CallbackURL, format: format})
	}
	r.metrics.submissions.WithLabelValues(jr.Language, format.api).Inc()
	return sub, nil
}

// wait waits up to the configured maximum for id to finish. final reports
// whether it did; a wait that ran out is not an error.
func (r *Role) wait(ctx context.Context, c caller, id string) (sub job.Submission, final bool, err error) {
	wctx, cancel := context.WithTimeout(ctx, r.cfg.MaxWait)
	defer cancel()
	sub, err = queue.Wait(wctx, r.queue, id)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		// Finished and already handed to storage.
		sub, err = r.lookup(ctx, c, id)
	case err != nil && ctx.Err() == nil && wctx.Err() != nil:
		return sub, false, nil
	}
	if err != nil {
		return sub, false, err
	}
	if sub.Status.Final() {
		r.inflight.done(c.limitKey, id)
	}
	return sub, sub.Status.Final(), nil
}

// lookup finds a submission the caller may see: in the queue while it is in
// flight or recent, else in storage. Another key's submission is not found.
func (r *Role) lookup(ctx context.Context, c caller, id string) (job.Submission, error) {
	if !job.ValidID(id) {
		return job.Submission{}, queue.ErrNotFound
	}
	sub, err := r.queue.Get(ctx, id)
	if errors.Is(err, queue.ErrNotFound) {
		sub, err = r.store.Get(ctx, id)
	}
	if err != nil {
		return job.Submission{}, err
	}
	if c.keyID != "" && sub.Request.APIKeyID != c.keyID {
		return job.Submission{}, store.ErrNotFound
	}
	return sub, nil
}
