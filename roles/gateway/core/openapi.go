package core

import (
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/version"
)

// Param is a query, path or header parameter of a route.
type Param struct {
	Name     string
	In       string // "query" (default), "path" or "header"
	Type     string // JSON schema type
	Format   string
	Required bool
	Doc      string
}

// Route is one public endpoint: the mux pattern, its handler and what the
// OpenAPI document says about it. The document is generated from the routes
// of every API and from the Go types in them, the same ones the handlers
// decode and encode.
type Route struct {
	Method, Path string
	Tag, Summary string
	// Request is a zero value of the JSON body type, or nil.
	Request any
	Params  []Param
	// Responses maps status codes to zero values of their body types.
	Responses map[int]any
	// ResponseHeaders are headers the route's successful answers may carry
	// (Name, Type and Doc are used).
	ResponseHeaders []Param
	// Stream: the 200 answer is text/event-stream. HTML: text/html.
	Stream, HTML bool
	// Public routes need no API key.
	Public bool
	Handle http.HandlerFunc
}

// Pattern is the route's http.ServeMux pattern.
func (rt Route) Pattern() string { return rt.Method + " " + rt.Path }

// OpenAPI builds the OpenAPI 3.1 document of routes; description is the
// document's info.description.
func OpenAPI(routes []Route, description string) map[string]any {
	g := &schemaGen{schemas: map[string]any{}}
	problem := g.schema(reflect.TypeOf(httpx.Problem{}))
	paths := map[string]any{}
	for _, rt := range routes {
		op := map[string]any{
			"operationId": operationID(rt),
			"summary":     rt.Summary,
			"tags":        []string{rt.Tag},
		}
		var params []any
		for _, p := range rt.Params {
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
		if rt.Request != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Request))}}}
		}
		responses := map[string]any{}
		for code, body := range rt.Responses {
			resp := map[string]any{"description": http.StatusText(code)}
			ct := "application/json"
			switch {
			case rt.Stream && code == 200:
				ct = "text/event-stream"
				resp["description"] = "Server-Sent Events: \"status\" events, then one \"result\" event; data is the submission as JSON."
			case rt.HTML:
				ct = "text/html"
			}
			if body != nil {
				resp["content"] = map[string]any{ct: map[string]any{"schema": g.schema(reflect.TypeOf(body))}}
			} else if ct != "application/json" {
				resp["content"] = map[string]any{ct: map[string]any{"schema": map[string]any{"type": "string"}}}
			}
			if len(rt.ResponseHeaders) > 0 {
				hs := map[string]any{}
				for _, h := range rt.ResponseHeaders {
					hs[h.Name] = map[string]any{"description": h.Doc, "schema": map[string]any{"type": h.Type}}
				}
				resp["headers"] = hs
			}
			responses[strconv.Itoa(code)] = resp
		}
		responses["default"] = map[string]any{"description": "Error (RFC 9457 problem details). A backing service " +
			"that is down (Redis, PostgreSQL, the queue, storage) is answered 503 with Retry-After and code " +
			"unavailable, the detail naming the service.",
			"content": map[string]any{"application/problem+json": map[string]any{"schema": problem}}}
		op["responses"] = responses
		if rt.Public {
			op["security"] = []any{}
		}
		item, _ := paths[rt.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "execbox",
			"version":     version.Version,
			"description": description,
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

func operationID(rt Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, part := range strings.FieldsFunc(rt.Path, func(c rune) bool { return c == '/' || c == '{' || c == '}' || c == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
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
		name := SchemaName(t)
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

// SchemaName is the component name of a named struct: the type name with
// its package name in front (JobResult, Judge0Request for judge0.Request,
// HttpxProblem), except for the native API's types, which keep their plain
// names (SubmissionRequest).
func SchemaName(t reflect.Type) string {
	if t.Name() == "" {
		return ""
	}
	pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
	if pkg == APINative {
		return t.Name()
	}
	return strings.ToUpper(pkg[:1]) + pkg[1:] + t.Name()
}

// JSONNames lists the JSON property names of struct type t as
// encoding/json sees them (embedded structs flattened).
func JSONNames(t reflect.Type) []string {
	var out []string
	for _, f := range jsonFields(t) {
		out = append(out, f.name)
	}
	return out
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
