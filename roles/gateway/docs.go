package gateway

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/execbox/app/roles/gateway/core"
)

// docsHTML is the docs page: the playground and the API reference, with
// nothing fetched from anywhere but this gateway. Its one script is the
// playground bundle, inlined where the placeholder is.
//
//go:embed docs.html
var docsHTML []byte

// playgroundJS is the playground bundle: CodeMirror 6 and the page's own
// code (roles/gateway/playground/src), built by playground/build.sh and
// committed, so that `go build` needs no npm.
//
//go:embed playground/dist/playground.js
var playgroundJS []byte

// playgroundPlaceholder is where docs.html takes the bundle.
const playgroundPlaceholder = "<script>/*PLAYGROUND_JS*/</script>"

// docsPage is the served page: the HTML around the inlined bundle (slices
// of the embedded files, so serving it plain copies nothing onto the heap),
// a Content-Security-Policy that allows exactly that script (by hash) and
// connections to this origin only (fetch, the event streams and the
// /v1/runs/ws WebSocket), and the page's gzip encoding, made on the first
// request that accepts it (about a third of the page's size, kept).
type docsPage struct {
	prefix, script, suffix []byte
	csp                    string
	// etag names this build of the page (the HTML's and the script's
	// hashes), so a browser revalidates with If-None-Match and gets 304.
	etag string
	gzip func() []byte
}

var buildDocsPage = sync.OnceValue(func() docsPage {
	script := bytes.TrimSpace(playgroundJS)
	if bytes.Contains(bytes.ToLower(script), []byte("</script")) {
		// build.sh escapes it; a bundle that still had one would end the
		// inline script early.
		panic("gateway: the playground bundle contains </script")
	}
	prefix, suffix, ok := bytes.Cut(docsHTML, []byte(playgroundPlaceholder))
	if !ok {
		panic("gateway: docs.html has no " + playgroundPlaceholder)
	}
	p := docsPage{
		prefix: append(prefix[:len(prefix):len(prefix)], "<script>"...),
		script: script,
		suffix: append([]byte("</script>"), suffix...),
	}
	sum := sha256.Sum256(script)
	page := sha256.Sum256(docsHTML)
	p.etag = `"` + base64.RawURLEncoding.EncodeToString(append(page[:8:8], sum[:8]...)) + `"`
	p.csp = "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	p.gzip = sync.OnceValue(func() []byte {
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		p.writeTo(zw)
		_ = zw.Close()
		return gz.Bytes()
	})
	return p
})

// writeTo writes the page, uncompressed.
func (p docsPage) writeTo(w io.Writer) {
	for _, b := range [][]byte{p.prefix, p.script, p.suffix} {
		if _, err := w.Write(b); err != nil {
			return
		}
	}
}

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

func handleDocs(w http.ResponseWriter, req *http.Request) {
	page := buildDocsPage()
	h := w.Header()
	h.Set("Content-Security-Policy", page.csp)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding")
	h.Set("ETag", page.etag)
	if etagMatch(req.Header.Get("If-None-Match"), page.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if acceptsGzip(req.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(page.gzip())
		return
	}
	w.WriteHeader(http.StatusOK)
	page.writeTo(w)
}

// etagMatch reports whether an If-None-Match value names etag (or is *).
// The gzip and plain encodings share the tag: Vary: Accept-Encoding keeps
// caches apart, and both decode to the same page.
func etagMatch(ifNoneMatch, etag string) bool {
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding value allows gzip (not
// refused with q=0).
func acceptsGzip(v string) bool {
	for _, part := range strings.Split(v, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
