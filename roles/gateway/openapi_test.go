package gateway_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/roles/gateway/core"
	"github.com/execbox/app/roles/gateway/internal/gatewaytest"
)

func TestOpenAPIListsEveryRoute(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/openapi.json", nil), 200), &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	ops := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			ops[strings.ToUpper(method)+" "+path] = true
		}
	}
	// Every registered route is documented...
	for _, rt := range b.Role.Routes() {
		if !ops[rt.Pattern()] {
			t.Errorf("route %s missing from /openapi.json", rt.Pattern())
		}
	}
	if len(ops) != len(b.Role.Routes()) {
		t.Errorf("%d operations documented, %d routes registered", len(ops), len(b.Role.Routes()))
	}
	// ...and the table holds every endpoint the API promises.
	for _, want := range []string{
		"POST /v1/submissions", "GET /v1/submissions", "GET /v1/submissions/{id}", "DELETE /v1/submissions/{id}",
		"POST /v1/submissions/batch", "GET /v1/submissions/{id}/events", "POST /v1/execute", "GET /v1/languages",
		"POST /submissions", "GET /submissions/{token}", "DELETE /submissions/{token}", "POST /submissions/batch",
		"GET /submissions/batch", "GET /languages", "GET /languages/{id}", "GET /statuses", "GET /about", "GET /config_info",
		"POST /api/v2/execute", "GET /api/v2/runtimes", "GET /openapi.json", "GET /docs",
	} {
		if !ops[want] {
			t.Errorf("endpoint %s not documented", want)
		}
	}
	// Every $ref resolves.
	raw, _ := json.Marshal(doc)
	for _, part := range strings.Split(string(raw), `"$ref":"#/components/schemas/`)[1:] {
		name := part[:strings.IndexByte(part, '"')]
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("dangling $ref %s", name)
		}
	}
}

// schemaOf returns the component schema of a named type from the served
// document.
func schemaOf(t *testing.T, b *gatewaytest.Bundle, name string) (props map[string]map[string]any, required []string) {
	t.Helper()
	raw := gatewaytest.WantStatus(t, b.Do(t, "GET", "/openapi.json", nil), 200)
	var d struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
				Required   []string                  `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	s, ok := d.Components.Schemas[name]
	if !ok {
		t.Fatalf("no schema %s", name)
	}
	return s.Properties, s.Required
}

func TestOpenAPIRequestSchemasMatchHandlerTypes(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	for _, rt := range b.Role.Routes() {
		if rt.Request == nil {
			continue
		}
		typ := reflect.TypeOf(rt.Request)
		props, _ := schemaOf(t, b, core.SchemaName(typ))
		var want, got []string
		want = append(want, core.JSONNames(typ)...)
		for p := range props {
			got = append(got, p)
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(want, ",") != strings.Join(got, ",") {
			t.Errorf("%s: schema properties %v, type fields %v", rt.Pattern(), got, want)
		}
	}
	props, required := schemaOf(t, b, "SubmissionRequest")
	if strings.Join(required, ",") != "language" {
		t.Errorf("required = %v", required)
	}
	if props["limits"]["$ref"] != "#/components/schemas/JobLimits" || props["files"]["type"] != "array" ||
		props["metadata"]["additionalProperties"] == nil || props["priority"]["enum"] == nil {
		t.Errorf("properties %v", props)
	}
	sub, _ := schemaOf(t, b, "Submission")
	if sub["created_at"]["format"] != "date-time" {
		t.Errorf("created_at %v", sub["created_at"])
	}

	// The strict native decoder accepts every documented property: the
	// schema and the handler cannot disagree about field names.
	zero := map[string]any{"string": "", "integer": 0, "boolean": false, "array": []any{}, "object": map[string]any{}}
	for name, p := range props {
		typ, _ := p["type"].(string)
		v, ok := zero[typ]
		if !ok {
			v = map[string]any{} // $ref: an object
		}
		resp := b.Do(t, "POST", "/v1/submissions", map[string]any{name: v})
		var prob httpx.Problem
		gatewaytest.DecodeBody(t, resp, &prob)
		if prob.Title == "unknown field" || prob.Title == "invalid field type" {
			t.Errorf("documented property %s refused: %+v", name, prob)
		}
	}
}

func TestDocsPageIsSelfContained(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	resp := b.Do(t, "GET", "/docs", nil)
	body := string(gatewaytest.WantStatus(t, resp, 200))
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	// The playground's bundle is inlined: CodeMirror, the runs (batch over
	// the event stream, interactive over the WebSocket) and the reference.
	for _, want := range []string{`"/openapi.json"`, `"/v1/submissions"`, `/v1/runs/ws`, `/events`, "cm-content", `id="editor"`, `id="term"`} {
		if !strings.Contains(body, want) {
			t.Errorf("docs page lacks %s", want)
		}
	}
	if strings.Contains(body, "/*PLAYGROUND_JS*/") {
		t.Error("docs page still has the bundle's placeholder")
	}
	// Nothing is loaded from elsewhere: no external script, style sheet or
	// image, and the CSP allows only the inline bundle (by hash) and this
	// origin.
	body = strings.ReplaceAll(body, `<link rel="icon" href="data:,">`, "") // no favicon request
	for _, bad := range []string{"<script src", "<link", `src="http`, `href="http`} {
		if strings.Contains(body, bad) {
			t.Errorf("docs page loads something from elsewhere (%s)", bad)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'sha256-", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "script-src 'unsafe-inline'") || strings.Contains(csp, "*") {
		t.Errorf("Content-Security-Policy %q is too wide", csp)
	}
	if n := strings.Count(body, "<script>"); n != 1 {
		t.Errorf("%d inline scripts, want 1 (the CSP hash covers one)", n)
	}
}

// TestOpenAPIGolden: the served document equals testdata/openapi.json (but
// for info.version), so a refactoring of the APIs cannot change what
// clients are told without the change showing in review.
// EXECBOX_UPDATE_OPENAPI=1 go test ./roles/gateway -run TestOpenAPIGolden
// rewrites it.
func TestOpenAPIGolden(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	var doc map[string]any
	if err := json.Unmarshal(gatewaytest.WantStatus(t, b.Do(t, "GET", "/openapi.json", nil), 200), &doc); err != nil {
		t.Fatal(err)
	}
	doc["info"].(map[string]any)["version"] = ""
	got, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "testdata/openapi.json"
	if os.Getenv("EXECBOX_UPDATE_OPENAPI") == "1" {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("/openapi.json differs from %s; if the change is intended, run\n  EXECBOX_UPDATE_OPENAPI=1 go test ./roles/gateway -run TestOpenAPIGolden", golden)
	}
}
