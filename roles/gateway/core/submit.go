package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/store"
)

// What the APIs share: decoding, enqueueing with the per-key caps, waiting,
// looking up, canceling and listing submissions.

// Decode reads a JSON body with the configured size limit, refusing unknown
// fields. It answers the problem itself (413, 415, 400) and reports false on
// failure.
func (s *Service) Decode(w http.ResponseWriter, req *http.Request, v any, api API) bool {
	err := httpx.DecodeJSON(w, req, v, s.cfg.MaxBodyBytes)
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
	s.Reject(reason)
	WriteProblem(w, req, *p, api)
	return false
}

// DecodeLenient reads a body as Decode does (size, content type) but
// ignores unknown fields, as the Judge0 and Piston servers do.
func (s *Service) DecodeLenient(w http.ResponseWriter, req *http.Request, v any, api API) bool {
	var raw json.RawMessage
	if !s.Decode(w, req, &raw, api) {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		s.Reject("malformed_json")
		msg := err.Error()
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			msg = fmt.Sprintf("%s must be %s, not %s", te.Field, te.Type, te.Value)
		}
		WriteProblem(w, req, httpx.Problem{Status: http.StatusBadRequest, Title: "malformed JSON", Code: "malformed_json", Detail: msg}, api)
		return false
	}
	return true
}

// BoolQuery reads a boolean query parameter ("" is false).
func BoolQuery(req *http.Request, name string) (bool, error) {
	s := strings.TrimSpace(req.URL.Query().Get(name))
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("must be true or false, not %q", s)
	}
	return b, nil
}

// Invalid answers a request whose fields failed validation (400 naming
// each field, in the API's shape).
func (s *Service) Invalid(w http.ResponseWriter, req *http.Request, errs []httpx.FieldError, api API) {
	s.Reject("invalid_request")
	WriteProblem(w, req, *ValidationProblem(errs), api)
}

// Enqueue queues a validated request under the caller's in-flight cap. Its
// callback, if any, is the queue's to schedule when it finishes (once, also
// for a replayed request), rendered by the renderer of the request's API.
func (s *Service) Enqueue(ctx context.Context, c Caller, jr job.Request) (job.Submission, error) {
	max := s.cfg.MaxInFlight
	if err := s.inflight.reserve(ctx, s.queue, c.limitKey, 1, max); err != nil {
		return job.Submission{}, err
	}
	sub, err := s.queue.Enqueue(ctx, jr)
	if err != nil {
		s.inflight.release(c.limitKey, 1, max)
		return job.Submission{}, err
	}
	s.inflight.commit(c.limitKey, sub.ID, max)
	s.metrics.submissions.WithLabelValues(jr.Language, apiOf(jr)).Inc()
	return sub, nil
}

// ReplayedHeader marks the answer to a request whose Idempotency-Key was
// seen before: the submission is the first request's, answered with the
// first answer's status.
const ReplayedHeader = "Idempotent-Replayed"

// ReplayedParam documents ReplayedHeader in the OpenAPI document.
var ReplayedParam = Param{Name: ReplayedHeader, Type: "string",
	Doc: "\"true\" when the Idempotency-Key was seen before: the submission is the first request's and the status the first answer's."}

// MarkReplayed sets ReplayedHeader when sub answers a replayed request.
func MarkReplayed(w http.ResponseWriter, sub job.Submission) {
	if sub.Replayed {
		w.Header().Set(ReplayedHeader, "true")
	}
}

// apiOf names the API a request came through.
func apiOf(jr job.Request) string {
	if jr.Compat.API != "" {
		return jr.Compat.API
	}
	return APINative
}

// Wait waits up to the configured maximum for id to finish. final reports
// whether it did; a wait that ran out is not an error.
func (s *Service) Wait(ctx context.Context, c Caller, id string) (sub job.Submission, final bool, err error) {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.MaxWait)
	defer cancel()
	sub, err = queue.Wait(wctx, s.queue, id)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		// Finished and already handed to storage.
		sub, err = s.Lookup(ctx, c, id)
	case err != nil && ctx.Err() == nil && wctx.Err() != nil:
		return sub, false, nil
	}
	if err != nil {
		return sub, false, err
	}
	if sub.Status.Final() {
		s.inflight.done(c.limitKey, id)
	}
	return sub, sub.Status.Final(), nil
}

// Lookup finds a submission the caller may see: in the queue while it is in
// flight or recent, else in storage. Another key's submission is not found.
func (s *Service) Lookup(ctx context.Context, c Caller, id string) (job.Submission, error) {
	id = job.CanonicalID(id) // a Judge0 token names its id
	if !job.ValidID(id) {
		return job.Submission{}, queue.ErrNotFound
	}
	sub, err := s.queue.Get(ctx, id)
	if errors.Is(err, queue.ErrNotFound) {
		sub, err = s.store.Get(ctx, id)
	}
	if err != nil {
		return job.Submission{}, err
	}
	if c.keyID != "" && sub.Request.APIKeyID != c.keyID {
		return job.Submission{}, store.ErrNotFound
	}
	return sub, nil
}

// Cancel cancels a submission the caller owns. A final one is answered with
// an error wrapping queue.ErrFinal, and the submission.
func (s *Service) Cancel(ctx context.Context, c Caller, id string) (job.Submission, error) {
	id = job.CanonicalID(id)
	sub, err := s.Lookup(ctx, c, id)
	if err != nil {
		return sub, err
	}
	if sub.Status.Final() {
		return sub, fmt.Errorf("%w: status is %s", queue.ErrFinal, sub.Status)
	}
	sub, err = s.queue.Cancel(ctx, id)
	if err != nil {
		return sub, err
	}
	s.inflight.done(c.limitKey, id)
	return sub, nil
}

// Abandon cancels a submission of the caller that its client no longer
// waits for, best effort (a failure is not reported), and stops counting it
// against the caller's in-flight cap.
func (s *Service) Abandon(ctx context.Context, c Caller, id string) {
	_, _ = s.queue.Cancel(ctx, id)
	s.inflight.done(c.limitKey, id)
}

// Finished tells the in-flight count that the client saw id finish.
func (s *Service) Finished(c Caller, id string) { s.inflight.done(c.limitKey, id) }

// List returns one page of the caller's finished submissions (f.APIKeyID is
// always the caller's key).
func (s *Service) List(ctx context.Context, c Caller, f store.Filter) (store.Page, error) {
	f.APIKeyID = c.keyID
	return s.store.List(ctx, f)
}

// Follow watches a submission the caller may see: first is its current
// state; updates delivers each change the queue pushes and is closed when
// the watch ends (final status, ctx done, or the queue connection broke).
// updates is nil when the submission had left the queue (first comes from
// storage), and already closed when the watch ended before telling the
// state (first then comes from a lookup). An
// error is returned when the submission cannot be found or read, or when
// ctx ended before its state was known (ctx.Err()).
func (s *Service) Follow(ctx context.Context, c Caller, id string) (first job.Submission, updates <-chan job.Submission, err error) {
	id = job.CanonicalID(id)
	if !job.ValidID(id) {
		return first, nil, queue.ErrNotFound
	}
	ch, err := s.queue.Watch(ctx, id)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		// Finished and gone from the queue: storage has it, or nobody does.
		first, err = s.Lookup(ctx, c, id)
		return first, nil, err
	case err != nil:
		return first, nil, err
	}
	first, ok := <-ch
	if !ok {
		// Closed before telling the current state: the client left or the
		// queue lost the submission.
		if ctx.Err() != nil {
			return first, nil, ctx.Err()
		}
		first, err = s.Lookup(ctx, c, id)
		return first, ch, err
	}
	if c.keyID != "" && first.Request.APIKeyID != c.keyID {
		return job.Submission{}, nil, queue.ErrNotFound
	}
	return first, ch, nil
}

// MainRun is the run the compatibility APIs report: the run, or else the
// first test case's (nil when nothing ran).
func MainRun(res *job.Result) *job.Step {
	if res.Run != nil {
		return res.Run
	}
	if len(res.Tests) > 0 {
		return &res.Tests[0]
	}
	return nil
}
