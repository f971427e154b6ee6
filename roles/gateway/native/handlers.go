package native

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/roles/gateway/core"
)

const maxListLimit = 100

// api is how the native API names itself to the core (problems are RFC
// 9457 problem+json).
var api = core.API{Name: core.APINative}

// API is the native API over the gateway core.
type API struct {
	svc *core.Service
}

// New builds the native API and registers its callback renderer: the
// final submission as a POST.
func New(svc *core.Service) *API {
	a := &API{svc: svc}
	svc.RegisterCallbackRenderer(core.APINative, core.CallbackRendererFunc(func(s job.Submission) (string, []byte, error) {
		b, err := json.Marshal(toSubmission(s))
		return http.MethodPost, b, err
	}))
	return a
}

// Routes lists the native API's routes.
func (a *API) Routes() []core.Route {
	waitParam := core.Param{Name: "wait", Type: "boolean", Doc: "Wait (up to the server's maximum) for the final result: 200 with the submission, or 202 with the id when the wait runs out."}
	idParam := core.Param{Name: "id", In: "path", Type: "string", Required: true, Doc: "Submission id."}
	return []core.Route{
		{Method: "POST", Path: "/v1/submissions", Tag: "native", Summary: "Create a submission",
			Request: SubmissionRequest{}, Params: []core.Param{waitParam,
				{Name: "Idempotency-Key", In: "header", Type: "string", Doc: "Repeating a request with the same key returns the first submission instead of running again, with the first answer's status and Idempotent-Replayed: true."}},
			Responses:       map[int]any{201: SubmissionCreated{}, 200: Submission{}, 202: SubmissionCreated{}},
			ResponseHeaders: []core.Param{core.ReplayedParam},
			Handle:          a.handleCreate},
		{Method: "POST", Path: "/v1/submissions/batch", Tag: "native", Summary: "Create several submissions",
			Request: BatchRequest{}, Responses: map[int]any{200: BatchResponse{}}, Handle: a.handleBatch},
		{Method: "GET", Path: "/v1/submissions", Tag: "native", Summary: "List finished submissions, newest first",
			Params: []core.Param{
				{Name: "status", Type: "string", Doc: "Only this status."},
				{Name: "language", Type: "string", Doc: "Only this language id."},
				{Name: "since", Type: "string", Format: "date-time", Doc: "Created at or after (RFC 3339)."},
				{Name: "until", Type: "string", Format: "date-time", Doc: "Created before (RFC 3339)."},
				{Name: "cursor", Type: "string", Doc: "next_cursor of the previous page."},
				{Name: "limit", Type: "integer", Doc: fmt.Sprintf("Page size, 1 to %d (default 20).", maxListLimit)},
			},
			Responses: map[int]any{200: SubmissionList{}}, Handle: a.handleList},
		{Method: "GET", Path: "/v1/submissions/{id}", Tag: "native", Summary: "Get a submission",
			Params: []core.Param{idParam}, Responses: map[int]any{200: Submission{}}, Handle: a.handleGet},
		{Method: "DELETE", Path: "/v1/submissions/{id}", Tag: "native", Summary: "Cancel a submission",
			Params: []core.Param{idParam}, Responses: map[int]any{200: Submission{}}, Handle: a.handleCancel},
		{Method: "GET", Path: "/v1/submissions/{id}/events", Tag: "native", Summary: "Stream status changes and the result (Server-Sent Events)",
			Params: []core.Param{idParam}, Responses: map[int]any{200: Submission{}}, Stream: true, Handle: a.handleEvents},
		{Method: "POST", Path: "/v1/execute", Tag: "native", Summary: "Run code and wait for the result",
			Request: SubmissionRequest{}, Responses: map[int]any{200: Submission{}, 202: SubmissionCreated{}},
			Handle: a.handleExecute},
		{Method: "GET", Path: "/v1/runs/ws", Tag: "native", Summary: "Run a program interactively (WebSocket: stdin, signals and output while it runs; the API key in the Authorization header or the start message)",
			Responses: map[int]any{101: nil}, Public: true, Handle: a.handleRunWS},
		{Method: "GET", Path: "/v1/languages", Tag: "native", Summary: "List languages",
			Responses: map[int]any{200: LanguageList{}}, Handle: a.handleLanguages},
	}
}

func (a *API) handleCreate(w http.ResponseWriter, req *http.Request) {
	wait, err := core.BoolQuery(req, "wait")
	if err != nil {
		a.svc.Invalid(w, req, []httpx.FieldError{{Field: "wait", Message: err.Error()}}, api)
		return
	}
	a.submit(w, req, wait, http.StatusCreated)
}

func (a *API) handleExecute(w http.ResponseWriter, req *http.Request) {
	a.submit(w, req, true, http.StatusOK)
}

// submit creates one submission and answers createdStatus with its id, or
// with the final submission when wait is set and it finished in time (202
// with the id when it did not).
func (a *API) submit(w http.ResponseWriter, req *http.Request, wait bool, createdStatus int) {
	if !a.svc.Allow(w, req, api, 1) {
		return
	}
	var in SubmissionRequest
	if !a.svc.Decode(w, req, &in, api) {
		return
	}
	c := core.CallerFrom(req.Context())
	jr, errs := a.svc.Validate(req.Context(), c, toInput(in, req.Header.Get("Idempotency-Key")))
	if len(errs) > 0 {
		a.svc.Invalid(w, req, errs, api)
		return
	}
	sub, err := a.svc.Enqueue(req.Context(), c, jr)
	if err != nil {
		a.svc.WriteError(w, req, err, api)
		return
	}
	w.Header().Set("Location", "/v1/submissions/"+sub.ID)
	core.MarkReplayed(w, sub)
	if !wait {
		httpx.WriteJSON(w, createdStatus, SubmissionCreated{ID: sub.ID, Status: sub.Status})
		return
	}
	final, done, err := a.svc.Wait(req.Context(), c, sub.ID)
	switch {
	case err != nil:
		a.svc.WriteError(w, req, err, api)
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

func (a *API) handleBatch(w http.ResponseWriter, req *http.Request) {
	var in BatchRequest
	if !a.svc.Decode(w, req, &in, api) {
		return
	}
	maxBatch := a.svc.Config().MaxBatch
	switch n := len(in.Submissions); {
	case n == 0:
		a.svc.Invalid(w, req, []httpx.FieldError{{Field: "submissions", Message: "must hold at least one submission"}}, api)
		return
	case n > maxBatch:
		a.svc.Invalid(w, req, []httpx.FieldError{{Field: "submissions", Message: fmt.Sprintf("has %d submissions, at most %d allowed", n, maxBatch)}}, api)
		return
	}
	if !a.svc.Allow(w, req, api, len(in.Submissions)) {
		return
	}
	c := core.CallerFrom(req.Context())
	out := BatchResponse{Items: make([]BatchItem, len(in.Submissions))}
	for i, s := range in.Submissions {
		jr, errs := a.svc.Validate(req.Context(), c, toInput(s, ""))
		if len(errs) > 0 {
			a.svc.Reject("invalid_request")
			for j := range errs {
				errs[j].Field = fmt.Sprintf("submissions[%d].%s", i, errs[j].Field)
			}
			out.Items[i].Error = itemProblem(*core.ValidationProblem(errs))
			continue
		}
		sub, err := a.svc.Enqueue(req.Context(), c, jr)
		if err != nil {
			out.Items[i].Error = itemProblem(core.ProblemFor(err))
			continue
		}
		out.Items[i].ID, out.Items[i].Status = sub.ID, sub.Status
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) handleGet(w http.ResponseWriter, req *http.Request) {
	sub, err := a.svc.Lookup(req.Context(), core.CallerFrom(req.Context()), req.PathValue("id"))
	if err != nil {
		a.svc.WriteError(w, req, err, api)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toSubmission(sub))
}

func (a *API) handleCancel(w http.ResponseWriter, req *http.Request) {
	if !a.svc.Allow(w, req, api, 1) {
		return
	}
	sub, err := a.svc.Cancel(req.Context(), core.CallerFrom(req.Context()), req.PathValue("id"))
	if err != nil {
		a.svc.WriteError(w, req, err, api)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toSubmission(sub))
}

func (a *API) handleList(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	f := store.Filter{Language: q.Get("language"), Cursor: q.Get("cursor"), Limit: 20}
	var errs core.FieldErrors
	if s := q.Get("status"); s != "" {
		f.Status = job.Status(s)
		if !validStatus(f.Status) {
			errs.Add("status", "unknown status %q", s)
		}
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := q.Get(t.name); s != "" {
			v, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				errs.Add(t.name, "must be an RFC 3339 time")
			}
			*t.dst = v
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListLimit {
			errs.Add("limit", "must be an integer from 1 to %d", maxListLimit)
		}
		f.Limit = n
	}
	if len(errs) > 0 {
		a.svc.Invalid(w, req, errs, api)
		return
	}
	page, err := a.svc.List(req.Context(), core.CallerFrom(req.Context()), f)
	if err != nil {
		a.svc.WriteError(w, req, err, api)
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

func (a *API) handleLanguages(w http.ResponseWriter, _ *http.Request) {
	langs := a.svc.Catalog().All()
	out := LanguageList{Languages: make([]LanguageInfo, 0, len(langs))}
	for _, l := range langs {
		out.Languages = append(out.Languages, languageInfo(l))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
