package gateway

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/execbox/app/pkg/version"
)

// param is a query, path or header parameter of a route.
type param struct {
	Name     string
	In       string // "query" (default), "path" or "header"
	Type     string // JSON schema type
	Format   string
	Required bool
	Doc      string
}

// route is one public endpoint: the mux pattern, its handler and what the
// OpenAPI document says about it. The document is generated from this table
// and from the Go types in it, the same ones the handlers decode and encode.
type route struct {
	method, path string
	tag, summary string
	// request is a zero value of the JSON body type, or nil.
	request any
	params  []param
	// responses maps status codes to zero values of their body types.
	responses map[int]any
	// stream: the 200 answer is text/event-stream. html: text/html.
	stream, html bool
	// public routes need no API key.
	public  bool
	handle  http.HandlerFunc
	handler http.Handler
}

func (rt route) pattern() string { return rt.method + " " + rt.path }

// routeTable is every public route, built once.
func (r *Role) routeTable() []route {
	if r.routes != nil {
		return r.routes
	}
	var all []route
	all = append(all, r.nativeRoutes()...)
	all = append(all, r.judge0Routes()...)
	all = append(all, r.pistonRoutes()...)
	all = append(all, r.docRoutes()...)
	for i := range all {
		var h http.Handler = all[i].handle
		if !all[i].public {
			h = r.authenticate(h)
		}
		all[i].handler = h
	}
	r.routes = all
	return all
}

// openAPI builds the OpenAPI 3.1 document from the route table.
func (r *Role) openAPI() map[string]any {
	g := &schemaGen{schemas: map[string]any{}}
	problem := g.schema(reflect.TypeOf(ProblemDetail{}))
	paths := map[string]any{}
	for _, rt := range r.routeTable() {
		op := map[string]any{
			"operationId": operationID(rt),
			"summary":     rt.summary,
			"tags":        []string{rt.tag},
		}
		var params []any
		for _, p := range rt.params {
			in := p.In
			if in == "" {
				in = "query"
			}
			s := map[string]any{"type": p.Type}
			if p.Format != "" {
				s["format"] = p.Format
			}
			params = append(params, map[string]any{"name": p.Name, "in": in, "required": p.Required || in == "path",
				"description": p.Doc, "schema": s})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.request != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.request))}}}
		}
		responses := map[string]any{}
		for code, body := range rt.responses {
			resp := map[string]any{"description": http.StatusText(code)}
			ct := "application/json"
			switch {
			case rt.stream && code == 200:
				ct = "text/event-stream"
				resp["description"] = "Server-Sent Events: \"status\" events, then one \"result\" event; data is the submission as JSON."
			case rt.html:
				ct = "text/html"
			}
			if body != nil {
				resp["content"] = map[string]any{ct: map[string]any{"schema": g.schema(reflect.TypeOf(body))}}
			} else if ct != "application/json" {
				resp["content"] = map[string]any{ct: map[string]any{"schema": map[string]any{"type": "string"}}}
			}
			responses[strconv.Itoa(code)] = resp
		}
		responses["default"] = map[string]any{"description": "Error (RFC 9457 problem details)",
			"content": map[string]any{"application/problem+json": map[string]any{"schema": problem}}}
		op["responses"] = responses
		if rt.public {
			op["security"] = []any{}
		}
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "execbox",
			"version": version.Version,
			"description": "Runs untrusted code in hardened sandboxes. Native API under /v1; " +
				"Judge0 CE compatible API under /submissions, /languages, /statuses, /about, /config_info; " +
				"Piston v2 compatible API under /api/v2.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{
				"bearer":    map[string]any{"type": "http", "scheme": "bearer"},
				"apiKey":    map[string]any{"type": "apiKey", "in": "header", "name": "X-Api-Key"},
				"authToken": map[string]any{"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
			},
		},
		"security": []any{
			map[string]any{"bearer": []string{}}, map[string]any{"apiKey": []string{}}, map[string]any{"authToken": []string{}},
		},
	}
}

func operationID(rt route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.method))
	for _, part := range strings.FieldsFunc(rt.path, func(c rune) bool { return c == '/' || c == '{' || c == '}' || c == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// handleOpenAPI serves the document, generated once (the routes and types
// do not change while the process runs).
func (r *Role) handleOpenAPI(w http.ResponseWriter, _ *http.Request) {
	r.specOnce.Do(func() { r.spec, _ = json.Marshal(r.openAPI()) })
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(r.spec)
}

// schemaGen turns Go types into JSON Schema (OpenAPI 3.1 dialect). Named
// structs become components referenced by $ref.
type schemaGen struct {
	schemas map[string]any
}

var timeType = reflect.TypeOf(time.Time{})

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == reflect.TypeOf(time.Duration(0)):
		return map[string]any{"type": "integer", "description": "nanoseconds"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := schemaName(t)
		if name == "" {
			return g.object(t)
		}
		ref := map[string]any{"$ref": "#/components/schemas/" + name}
		if _, done := g.schemas[name]; !done {
			g.schemas[name] = map[string]any{} // placeholder against recursion
			g.schemas[name] = g.object(t)
		}
		return ref
	}
	return map[string]any{}
}

// schemaName is the component name of a named struct: the type name, with
// the package name in front for types from other packages (JobResult).
func schemaName(t reflect.Type) string {
	if t.Name() == "" {
		return ""
	}
	if t.PkgPath() == reflect.TypeOf(route{}).PkgPath() {
		return t.Name()
	}
	pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
	return strings.ToUpper(pkg[:1]) + pkg[1:] + t.Name()
}

// jsonField is one JSON property of a struct.
type jsonField struct {
	name     string
	field    reflect.StructField
	required bool
}

// jsonFields lists the JSON properties of struct type t as encoding/json
// sees them (embedded structs flattened).
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
		required := f.Tag.Get("validate") == "required" || (!omit && f.Type.Kind() != reflect.Pointer)
		out = append(out, jsonField{name: name, field: f, required: required})
	}
	return out
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range jsonFields(t) {
		s := g.schema(f.field.Type)
		if doc, enum := f.field.Tag.Get("doc"), f.field.Tag.Get("enum"); doc != "" || enum != "" {
			// Siblings of $ref are allowed in OpenAPI 3.1 (JSON Schema 2020-12).
			c := make(map[string]any, len(s)+2)
			for k, v := range s {
				c[k] = v
			}
			if doc != "" {
				c["description"] = doc
			}
			if enum != "" {
				c["enum"] = strings.Split(enum, ",")
			}
			s = c
		}
		props[f.name] = s
		if f.required {
			required = append(required, f.name)
		}
	}
	sort.Strings(required)
	o := map[string]any{"type": "object", "properties": props}
	if required != nil {
		o["required"] = required
	}
	return o
}

func reflectType[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }
