package piston

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway/core"
)

// apiName is this API's name in job.Compat and metrics.
const apiName = "piston"

// api is how the Piston API names itself to the core: its clients read
// errors as {"message": ...}.
var api = core.API{Name: apiName, WriteProblem: writeProblem}

// API is the Piston API over the gateway core. Piston has no callbacks, so
// it registers no callback renderer.
type API struct {
	svc *core.Service
}

// New builds the Piston API.
func New(svc *core.Service) *API { return &API{svc: svc} }

func (a *API) Routes() []core.Route {
	return []core.Route{
		{Method: "POST", Path: "/api/v2/execute", Tag: "piston", Summary: "Run code (Piston v2)",
			Request: Request{}, Responses: map[int]any{200: Response{}}, Handle: a.handleExecute},
		{Method: "GET", Path: "/api/v2/runtimes", Tag: "piston", Summary: "List runtimes (Piston v2)",
			Responses: map[int]any{200: []Runtime{}}, Handle: a.handleRuntimes},
		{Method: "GET", Path: "/api/v2/connect", Tag: "piston", Summary: "Run code interactively (Piston v2 WebSocket: init, runtime, stage, data, signal, exit, error)",
			Responses: map[int]any{101: nil}, Public: true, Handle: a.handleConnect},
		{Method: "GET", Path: "/api/v2/packages", Tag: "piston", Summary: "List installed packages (Piston v2)",
			Responses: map[int]any{200: []Package{}}, Handle: a.handlePackages},
	}
}

func (a *API) handleRuntimes(w http.ResponseWriter, _ *http.Request) {
	var out []Runtime
	for _, l := range a.svc.Catalog().All() {
		if l.Piston.Language == "" {
			continue
		}
		aliases := l.Piston.Aliases
		if aliases == nil {
			aliases = []string{}
		}
		out = append(out, Runtime{Language: l.Piston.Language, Version: l.Piston.Version, Aliases: aliases})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) handleExecute(w http.ResponseWriter, req *http.Request) {
	if !a.svc.Allow(w, req, api, 1) {
		return
	}
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt == "text/plain" {
		// The npm piston-client posts its JSON as a string body, which
		// fetch labels text/plain. The body must still be JSON.
		req = req.Clone(req.Context())
		req.Header.Del("Content-Type")
	}
	var raw json.RawMessage
	if !a.svc.Decode(w, req, &raw, api) {
		return
	}
	in, msg := parseRequest(raw)
	var input core.Input
	var lang, ver string
	if msg == "" {
		input, lang, ver, msg = a.toInput(in)
	}
	c := core.CallerFrom(req.Context())
	if msg == "" {
		jr, errs := a.svc.Validate(req.Context(), c, input)
		if len(errs) == 0 {
			a.run(w, req, c, jr, lang, ver)
			return
		}
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Field + ": " + e.Message
		}
		msg = strings.Join(msgs, "; ")
	}
	a.svc.Reject("invalid_request")
	httpx.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": msg})
}

// handlePackages lists the installed runtimes as Piston's package list.
// Packages cannot be installed or removed through the API: the images are
// built by the operator.
func (a *API) handlePackages(w http.ResponseWriter, _ *http.Request) {
	out := []Package{}
	for _, l := range a.svc.Catalog().All() {
		if l.Piston.Language != "" {
			out = append(out, Package{Language: l.Piston.Language, LanguageVersion: l.Piston.Version, Installed: true})
		}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) run(w http.ResponseWriter, req *http.Request, c core.Caller, jr job.Request, lang, ver string) {
	sub, err := a.svc.Enqueue(req.Context(), c, jr)
	if err != nil {
		a.svc.WriteError(w, req, err, api)
		return
	}
	final, done, err := a.svc.Wait(req.Context(), c, sub.ID)
	if err != nil {
		a.svc.WriteError(w, req, err, api)
		return
	}
	if !done {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), 5*time.Second)
		defer cancel()
		a.svc.Abandon(ctx, c, sub.ID)
		httpx.WriteJSON(w, http.StatusGatewayTimeout, map[string]string{
			"message": fmt.Sprintf("execution did not finish within %s and was canceled", a.svc.Config().MaxWait)})
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toResponse(final, lang, ver))
}

// writeProblem renders p as Piston's {"message": ...}, with Retry-After when
// p has one.
func writeProblem(w http.ResponseWriter, _ *http.Request, p httpx.Problem) {
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	for _, fe := range p.Errors {
		msg += fmt.Sprintf("; %s: %s", fe.Field, fe.Message)
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(core.CeilSeconds(p.RetryAfter)))
	}
	httpx.WriteJSON(w, p.Status, map[string]string{"message": msg})
}
