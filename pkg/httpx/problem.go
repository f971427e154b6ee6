package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// Problem is an RFC 9457 problem details body (application/problem+json).
// The doc tags are field descriptions in the gateway's OpenAPI document.
type Problem struct {
	Type     string `json:"type,omitempty"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Code is a stable machine-readable error code ("queue_full",
	// "lease_lost", ...) that internal clients map back to sentinel errors.
	Code string `json:"code,omitempty" doc:"Stable machine-readable error code."`
	// Errors names each invalid field.
	Errors []FieldError `json:"errors,omitempty" doc:"One entry per invalid field."`
	// RetryAfter, when set, is also sent as the Retry-After header (seconds).
	RetryAfter time.Duration `json:"-"`
	RequestID  string        `json:"request_id,omitempty"`
}

// FieldError is one invalid request field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p *Problem) Error() string {
	msg := fmt.Sprintf("%d %s", p.Status, p.Title)
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	for _, fe := range p.Errors {
		msg += fmt.Sprintf("; %s: %s", fe.Field, fe.Message)
	}
	return msg
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if r != nil {
		p.RequestID = RequestID(r.Context())
		if p.Instance == "" {
			p.Instance = r.URL.Path
		}
	}
	if p.RetryAfter > 0 {
		secs := int((p.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// DecodeJSON reads a JSON request body into v: the content type must be JSON
// (415 otherwise), the body at most maxBytes (413), unknown fields and
// trailing data are rejected (400). The returned error is a *Problem.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any, maxBytes int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !(len(mt) > 5 && mt[len(mt)-5:] == "+json")) {
			return &Problem{Status: http.StatusUnsupportedMediaType, Title: "unsupported media type",
				Detail: fmt.Sprintf("Content-Type must be application/json, not %q", ct)}
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err, maxBytes)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Problem{Status: http.StatusBadRequest, Title: "malformed JSON", Detail: "request body must hold exactly one JSON value"}
	}
	return nil
}

func jsonProblem(err error, maxBytes int64) *Problem {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case isTimeout(err):
		return &Problem{Status: http.StatusRequestTimeout, Title: "request body too slow",
			Detail: "the request body did not arrive in time"}
	case errors.As(err, &maxErr):
		return &Problem{Status: http.StatusRequestEntityTooLarge, Title: "request body too large",
			Detail: fmt.Sprintf("request body exceeds %d bytes", maxBytes)}
	case errors.As(err, &syntaxErr):
		return &Problem{Status: http.StatusBadRequest, Title: "malformed JSON",
			Detail: fmt.Sprintf("%v (at byte %d)", syntaxErr, syntaxErr.Offset)}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "(body)"
		}
		return &Problem{Status: http.StatusBadRequest, Title: "invalid field type",
			Errors: []FieldError{{Field: field, Message: fmt.Sprintf("must be %s, not %s", typeErr.Type, typeErr.Value)}}}
	case errors.Is(err, io.EOF):
		return &Problem{Status: http.StatusBadRequest, Title: "malformed JSON", Detail: "request body is empty"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Problem{Status: http.StatusBadRequest, Title: "malformed JSON", Detail: "request body ends early"}
	}
	const unknownPrefix = "json: unknown field "
	if msg := err.Error(); len(msg) > len(unknownPrefix) && msg[:len(unknownPrefix)] == unknownPrefix {
		name, _ := strconv.Unquote(msg[len(unknownPrefix):])
		return &Problem{Status: http.StatusBadRequest, Title: "unknown field",
			Errors: []FieldError{{Field: name, Message: "unknown field"}}}
	}
	return &Problem{Status: http.StatusBadRequest, Title: "malformed JSON", Detail: err.Error()}
}
