package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/store"
)

const maxListLimit = 100

func (r *Role) nativeRoutes() []route {
	waitParam := param{Name: "wait", Type: "boolean", Doc: "Wait (up to the server's maximum) for the final result: 200 with the submission, or 202 with the id when the wait runs out."}
	idParam := param{Name: "id", In: "path", Type: "string", Required: true, Doc: "Submission id."}
	return []route{
		{method: "POST", path: "/v1/submissions", tag: "native", summary: "Create a submission",
			request: SubmissionRequest{}, params: []param{waitParam,
				{Name: "Idempotency-Key", In: "header", Type: "string", Doc: "Repeating a request with the same key returns the first submission instead of running again."}},
			responses: map[int]any{201: SubmissionCreated{}, 200: Submission{}, 202: SubmissionCreated{}},
			handle:    r.handleCreate},
		{method: "POST", path: "/v1/submissions/batch", tag: "native", summary: "Create several submissions",
			request: BatchRequest{}, responses: map[int]any{200: BatchResponse{}}, handle: r.handleBatch},
		{method: "GET", path: "/v1/submissions", tag: "native", summary: "List finished submissions, newest first",
			params: []param{
				{Name: "status", Type: "string", Doc: "Only this status."},
				{Name: "language", Type: "string", Doc: "Only this language id."},
				{Name: "since", Type: "string", Format: "date-time", Doc: "Created at or after (RFC 3339)."},
				{Name: "until", Type: "string", Format: "date-time", Doc: "Created before (RFC 3339)."},
				{Name: "cursor", Type: "string", Doc: "next_cursor of the previous page."},
				{Name: "limit", Type: "integer", Doc: fmt.Sprintf("Page size, 1 to %d (default 20).", maxListLimit)},
			},
			responses: map[int]any{200: SubmissionList{}}, handle: r.handleList},
		{method: "GET", path: "/v1/submissions/{id}", tag: "native", summary: "Get a submission",
			params: []param{idParam}, responses: map[int]any{200: Submission{}}, handle: r.handleGet},
		{method: "DELETE", path: "/v1/submissions/{id}", tag: "native", summary: "Cancel a submission",
			params: []param{idParam}, responses: map[int]any{200: Submission{}}, handle: r.handleCancel},
		{method: "GET", path: "/v1/submissions/{id}/events", tag: "native", summary: "Stream status changes and the result (Server-Sent Events)",
			params: []param{idParam}, responses: map[int]any{200: Submission{}}, stream: true, handle: r.handleEvents},
		{method: "POST", path: "/v1/execute", tag: "native", summary: "Run code and wait for the result",
			request: SubmissionRequest{}, responses: map[int]any{200: Submission{}, 202: SubmissionCreated{}},
			handle: r.handleExecute},
		{method: "GET", path: "/v1/languages", tag: "native", summary: "List languages",
			responses: map[int]any{200: LanguageList{}}, handle: r.handleLanguages},
	}
}

func (r *Role) handleCreate(w http.ResponseWriter, req *http.Request) {
	wait, err := boolQuery(req, "wait")
	if err != nil {
		r.invalid(w, req, []httpx.FieldError{{Field: "wait", Message: err.Error()}}, apiNative)
		return
	}
	r.submitNative(w, req, wait, http.StatusCreated)
}

func (r *Role) handleExecute(w http.ResponseWriter, req *http.Request) {
	r.submitNative(w, req, true, http.StatusOK)
}

// submitNative creates one submission and answers createdStatus with its
// id, or with the final submission when wait is set and it finished in time
// (202 with the id when it did not).
func (r *Role) submitNative(w http.ResponseWriter, req *http.Request, wait bool, createdStatus int) {
	if !r.allow(w, req, apiNative, 1) {
		return
	}
	var in SubmissionRequest
	if !r.decode(w, req, &in, apiNative) {
		return
	}
	c := callerFrom(req.Context())
	jr, errs := r.toJobRequest(req.Context(), in, c, req.Header.Get("Idempotency-Key"))
	if len(errs) > 0 {
		r.invalid(w, req, errs, apiNative)
		return
	}
	sub, err := r.enqueue(req.Context(), c, jr, callbackFormat{api: apiNative})
	if err != nil {
		r.writeError(w, req, err, apiNative)
		return
	}
	w.Header().Set("Location", "/v1/submissions/"+sub.ID)
	if !wait {
		httpx.WriteJSON(w, createdStatus, SubmissionCreated{ID: sub.ID, Status: sub.Status})
		return
	}
	final, done, err := r.wait(req.Context(), c, sub.ID)
	switch {
	case err != nil:
		r.writeError(w, req, err, apiNative)
	case done:
		httpx.WriteJSON(w, http.StatusOK, toSubmission(final))
	default:
		st := final.Status
		if st == "" {
			st = sub.Status
		}
		httpx.WriteJSON(w, http.StatusAccepted, SubmissionCreated{ID: sub.ID, Status: st})
	}
}

func (r *Role) handleBatch(w http.ResponseWriter, req *http.Request) {
	var in BatchRequest
	if !r.decode(w, req, &in, apiNative) {
		return
	}
	switch n := len(in.Submissions); {
	case n == 0:
		r.invalid(w, req, []httpx.FieldError{{Field: "submissions", Message: "must hold at least one submission"}}, apiNative)
		return
	case n > r.cfg.MaxBatch:
		r.invalid(w, req, []httpx.FieldError{{Field: "submissions", Message: fmt.Sprintf("has %d submissions, at most %d allowed", n, r.cfg.MaxBatch)}}, apiNative)
		return
	}
	if !r.allow(w, req, apiNative, len(in.Submissions)) {
		return
	}
	c := callerFrom(req.Context())
	out := BatchResponse{Items: make([]BatchItem, len(in.Submissions))}
	for i, s := range in.Submissions {
		jr, errs := r.toJobRequest(req.Context(), s, c, "")
		if len(errs) > 0 {
			r.metrics.rejected.WithLabelValues("invalid_request").Inc()
			for j := range errs {
				errs[j].Field = fmt.Sprintf("submissions[%d].%s", i, errs[j].Field)
			}
			out.Items[i].Error = problemDetail(*validationProblem(errs))
			continue
		}
		sub, err := r.enqueue(req.Context(), c, jr, callbackFormat{api: apiNative})
		if err != nil {
			p := problemFor(err)
			out.Items[i].Error = problemDetail(p)
			continue
		}
		out.Items[i].ID, out.Items[i].Status = sub.ID, sub.Status
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func problemDetail(p httpx.Problem) *ProblemDetail {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	d := &ProblemDetail{Type: p.Type, Title: p.Title, Status: p.Status, Detail: p.Detail, Code: p.Code}
	for _, fe := range p.Errors {
		d.Errors = append(d.Errors, FieldIssue{Field: fe.Field, Message: fe.Message})
	}
	return d
}

func (r *Role) handleGet(w http.ResponseWriter, req *http.Request) {
	sub, err := r.lookup(req.Context(), callerFrom(req.Context()), req.PathValue("id"))
	if err != nil {
		r.writeError(w, req, err, apiNative)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toSubmission(sub))
}

func (r *Role) handleCancel(w http.ResponseWriter, req *http.Request) {
	if !r.allow(w, req, apiNative, 1) {
		return
	}
	c := callerFrom(req.Context())
	sub, err := r.cancel(req, c, req.PathValue("id"))
	if err != nil {
		r.writeError(w, req, err, apiNative)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toSubmission(sub))
}

// cancel cancels a submission the caller owns.
func (r *Role) cancel(req *http.Request, c caller, id string) (job.Submission, error) {
	sub, err := r.lookup(req.Context(), c, id)
	if err != nil {
		return sub, err
	}
	if sub.Status.Final() {
		return sub, fmt.Errorf("%w: status is %s", queue.ErrFinal, sub.Status)
	}
	sub, err = r.queue.Cancel(req.Context(), id)
	if err != nil {
		return sub, err
	}
	r.inflight.done(c.limitKey, id)
	return sub, nil
}

func (r *Role) handleList(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	c := callerFrom(req.Context())
	f := store.Filter{Language: q.Get("language"), Cursor: q.Get("cursor"), APIKeyID: c.keyID, Limit: 20}
	var errs fieldErrors
	if s := q.Get("status"); s != "" {
		f.Status = job.Status(s)
		if !validStatus(f.Status) {
			errs.add("status", "unknown status %q", s)
		}
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := q.Get(t.name); s != "" {
			v, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				errs.add(t.name, "must be an RFC 3339 time")
			}
			*t.dst = v
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListLimit {
			errs.add("limit", "must be an integer from 1 to %d", maxListLimit)
		}
		f.Limit = n
	}
	if len(errs) > 0 {
		r.invalid(w, req, errs, apiNative)
		return
	}
	page, err := r.store.List(req.Context(), f)
	if err != nil {
		r.writeError(w, req, err, apiNative)
		return
	}
	out := SubmissionList{Items: make([]Submission, 0, len(page.Items)), NextCursor: page.NextCursor}
	for _, s := range page.Items {
		out.Items = append(out.Items, toSubmission(s))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func validStatus(s job.Status) bool {
	for _, v := range job.AllStatuses {
		if v == s {
			return true
		}
	}
	return false
}

func (r *Role) handleLanguages(w http.ResponseWriter, req *http.Request) {
	langs := r.catalog.All()
	out := LanguageList{Languages: make([]LanguageInfo, 0, len(langs))}
	for _, l := range langs {
		out.Languages = append(out.Languages, LanguageInfo{ID: l.ID, Name: l.Name, Version: l.Version, Aliases: l.Aliases,
			SourceFile: l.SourceFile, Compiled: len(l.Compile) > 0, Limits: l.Limits})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func boolQuery(req *http.Request, name string) (bool, error) {
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
