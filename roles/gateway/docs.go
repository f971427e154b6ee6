package gateway

import (
	_ "embed"
	"net/http"
)

// docsHTML is the docs page: plain HTML and JavaScript with nothing fetched
// from the internet. It renders /openapi.json and has a small playground
// that posts to /v1/execute.
//
//go:embed docs.html
var docsHTML []byte

func (r *Role) docRoutes() []route {
	return []route{
		{method: "GET", path: "/openapi.json", tag: "docs", summary: "This OpenAPI 3.1 document",
			responses: map[int]any{200: map[string]any{}}, public: true, handle: r.handleOpenAPI},
		{method: "GET", path: "/docs", tag: "docs", summary: "API documentation and playground (HTML)",
			responses: map[int]any{200: nil}, html: true, public: true, handle: handleDocs},
	}
}

func handleDocs(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(docsHTML)
}
