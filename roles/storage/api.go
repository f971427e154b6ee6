package storage

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/pkg/store/record"
	"github.com/execbox/app/pkg/store/storehttp"
)

// Internal API, all JSON, all behind the internal token:
//
//	GET  /storage/v1/submissions/{id}     one submission (404 not_found)
//	GET  /storage/v1/submissions          store.Page; query: status, language,
//	                                      api_key_id, since, until (RFC 3339),
//	                                      cursor, limit
//	GET  /storage/v1/stats                store.Stats; query: since (RFC 3339)
//	                                      or window (Go duration, default 24h)
//	POST /storage/v1/submissions          {"submissions": [...]}: Put, 204
//	POST /storage/v1/retention            {"before": time, "batch": n}: {"deleted": n}
//	/storage/v1/keys...                   API keys, see keys.go
const (
	maxPutBody    = 64 << 20
	defaultWindow = 24 * time.Hour
)

func newAPI(s store.Store, dep string, log *slog.Logger) http.Handler {
	a := &api{store: s, dep: dep, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /storage/v1/submissions/{id}", a.get)
	mux.HandleFunc("GET /storage/v1/submissions", a.list)
	mux.HandleFunc("POST /storage/v1/submissions", a.put)
	mux.HandleFunc("GET /storage/v1/stats", a.stats)
	mux.HandleFunc("POST /storage/v1/retention", a.retention)
	a.mountKeys(mux) // keys.go
	return mux
}

type api struct {
	store store.Store
	// dep names the database in outage answers ("PostgreSQL").
	dep string
	log *slog.Logger
}

// fail maps store errors to problems in one place, through storehttp's
// table, the one Client maps back to the sentinel errors.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	p, ok := storehttp.Problem(err)
	switch {
	case ok:
		httpx.WriteProblem(w, r, p)
	case r.Context().Err() != nil:
		// The caller left; nobody reads this.
		httpx.WriteProblem(w, r, httpx.Problem{Status: 499, Title: "client closed request"})
	default:
		httpx.Logger(r.Context(), a.log).Error("storage request failed", "err", err)
		httpx.WriteProblem(w, r, httpx.UnavailableProblem(a.dep))
	}
}

func badQuery(w http.ResponseWriter, r *http.Request, field, msg string) {
	httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusBadRequest, Title: "invalid query", Code: storehttp.CodeInvalid,
		Errors: []httpx.FieldError{{Field: field, Message: msg}}})
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	sub, err := a.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, sub)
}

func parseTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, v)
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.Filter{
		Status:   job.Status(q.Get("status")),
		Language: q.Get("language"),
		APIKeyID: q.Get("api_key_id"),
		Cursor:   q.Get("cursor"),
	}
	var err error
	if _, _, err := record.ParseCursor(f.Cursor); err != nil {
		badQuery(w, r, "cursor", "must be the next_cursor of an earlier page")
		return
	}
	if f.Since, err = parseTime(q, "since"); err != nil {
		badQuery(w, r, "since", "must be an RFC 3339 time")
		return
	}
	if f.Until, err = parseTime(q, "until"); err != nil {
		badQuery(w, r, "until", "must be an RFC 3339 time")
		return
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 0 {
			badQuery(w, r, "limit", "must be a non-negative integer")
			return
		}
	}
	page, err := a.store.List(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if page.Items == nil {
		page.Items = []job.Submission{}
	}
	httpx.WriteJSON(w, http.StatusOK, page)
}

func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := parseTime(q, "since")
	if err != nil {
		badQuery(w, r, "since", "must be an RFC 3339 time")
		return
	}
	if !q.Has("since") {
		window := defaultWindow
		if v := q.Get("window"); v != "" {
			if window, err = time.ParseDuration(v); err != nil || window <= 0 {
				badQuery(w, r, "window", "must be a positive duration such as 1h")
				return
			}
		}
		since = time.Now().Add(-window)
	}
	st, err := a.store.Stats(r.Context(), since)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, st)
}

func (a *api) put(w http.ResponseWriter, r *http.Request) {
	var req storehttp.PutRequest
	if !a.decode(w, r, &req, maxPutBody) {
		return
	}
	if err := a.store.Put(r.Context(), req.Submissions); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// decode reads the JSON body into v (at most max bytes) or answers the
// problem and reports false.
func (a *api) decode(w http.ResponseWriter, r *http.Request, v any, max int64) bool {
	err := httpx.DecodeJSON(w, r, v, max)
	if err == nil {
		return true
	}
	var p *httpx.Problem
	if errors.As(err, &p) {
		httpx.WriteProblem(w, r, *p)
	} else {
		a.fail(w, r, err)
	}
	return false
}

func (a *api) retention(w http.ResponseWriter, r *http.Request) {
	var req storehttp.RetentionRequest
	if !a.decode(w, r, &req, 4096) {
		return
	}
	n, err := a.store.DeleteBefore(r.Context(), req.Before, req.Batch)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, storehttp.RetentionResponse{Deleted: n})
}
