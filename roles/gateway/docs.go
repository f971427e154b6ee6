package gateway

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/execbox/app/roles/gateway/core"
)

// docsHTML is the docs page: plain HTML and JavaScript with nothing fetched
// from the internet. It renders /openapi.json and has a small playground
// that posts to /v1/execute.
//
//go:embed docs.html
var docsHTML []byte

// apiDescription is the OpenAPI document's description.
const apiDescription = "Runs untrusted code in hardened sandboxes. Native API under /v1; " +
	"Judge0 CE compatible API under /submissions, /languages, /statuses, /about, /config_info; " +
	"Piston v2 compatible API under /api/v2."

// docRoutes are the document and the docs page. The document covers the
// APIs' routes and these two; it is generated once, on first request (the
// routes and types do not change while the process runs).
func (r *Role) docRoutes(apis []core.Route) []core.Route {
	var routes []core.Route
	spec := sync.OnceValue(func() []byte {
		b, _ := json.Marshal(core.OpenAPI(append(append([]core.Route(nil), apis...), routes...), apiDescription))
		return b
	})
	handleOpenAPI := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(spec())
	}
	routes = []core.Route{
		{Method: "GET", Path: "/openapi.json", Tag: "docs", Summary: "This OpenAPI 3.1 document",
			Responses: map[int]any{200: map[string]any{}}, Public: true, Handle: handleOpenAPI},
		{Method: "GET", Path: "/docs", Tag: "docs", Summary: "API documentation and playground (HTML)",
			Responses: map[int]any{200: nil}, HTML: true, Public: true, Handle: handleDocs},
	}
	return routes
}

func handleDocs(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(docsHTML)
}
