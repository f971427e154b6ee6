package gateway

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/execbox/app/pkg/httpx"
)

func TestOpenAPIListsEveryRoute(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	decodeBody(t, wantStatusResp(t, b.do(t, "GET", "/openapi.json", nil), 200), &doc)
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
	for _, rt := range b.role.routeTable() {
		if !ops[rt.pattern()] {
			t.Errorf("route %s missing from /openapi.json", rt.pattern())
		}
	}
	if len(ops) != len(b.role.routeTable()) {
		t.Errorf("%d operations documented, %d routes registered", len(ops), len(b.role.routeTable()))
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

// schemaOf returns the component schema of a named type.
func schemaOf(t *testing.T, r *Role, name string) (props map[string]map[string]any, required []string) {
	t.Helper()
	doc := r.openAPI()
	b, _ := json.Marshal(doc)
	var d struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
				Required   []string                  `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
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
	b := setup(t, nil)
	for _, rt := range b.role.routeTable() {
		if rt.request == nil {
			continue
		}
		typ := reflect.TypeOf(rt.request)
		props, _ := schemaOf(t, b.role, schemaName(typ))
		var want, got []string
		for _, f := range jsonFields(typ) {
			want = append(want, f.name)
		}
		for p := range props {
			got = append(got, p)
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(want, ",") != strings.Join(got, ",") {
			t.Errorf("%s: schema properties %v, type fields %v", rt.pattern(), got, want)
		}
	}
	props, required := schemaOf(t, b.role, "SubmissionRequest")
	if strings.Join(required, ",") != "language" {
		t.Errorf("required = %v", required)
	}
	if props["limits"]["$ref"] != "#/components/schemas/LimitsInput" || props["files"]["type"] != "array" ||
		props["metadata"]["additionalProperties"] == nil || props["priority"]["enum"] == nil {
		t.Errorf("properties %v", props)
	}
	sub, _ := schemaOf(t, b.role, "Submission")
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
		resp := b.do(t, "POST", "/v1/submissions", map[string]any{name: v})
		var prob httpx.Problem
		decodeBody(t, resp, &prob)
		if prob.Title == "unknown field" || prob.Title == "invalid field type" {
			t.Errorf("documented property %s refused: %+v", name, prob)
		}
	}
}

func TestDocsPageIsSelfContained(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	resp := b.do(t, "GET", "/docs", nil)
	body := string(wantStatus(t, resp, 200))
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`fetch("/openapi.json")`, `"/v1/execute"`, "<form"} {
		if !strings.Contains(body, want) {
			t.Errorf("docs page lacks %s", want)
		}
	}
	if strings.Contains(body, "://") || strings.Contains(body, "<script src") || strings.Contains(body, "<link") {
		t.Error("docs page loads something from elsewhere")
	}
}
