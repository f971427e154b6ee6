package piston

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// parseRequest reads a Piston execute body field by field, answering type
// errors with Piston's own messages (which name the field and never a Go
// type). Unknown fields are ignored, as Piston does.
func parseRequest(raw []byte) (Request, string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return Request{}, "request body must be a JSON object"
	}
	var in Request
	if !stringField(m["language"], &in.Language) || in.Language == "" {
		return in, "language is required as a string"
	}
	if !stringField(m["version"], &in.Version) || in.Version == "" {
		return in, "version is required as a string"
	}
	var files []json.RawMessage
	if err := json.Unmarshal(m["files"], &files); err != nil || files == nil {
		return in, "files is required as an array"
	}
	for i, rf := range files {
		var fm map[string]json.RawMessage
		if err := json.Unmarshal(rf, &fm); err != nil || fm == nil {
			return in, fmt.Sprintf("files[%d] must be an object", i)
		}
		var f File
		if !stringField(fm["content"], &f.Content) || isNull(fm["content"]) {
			return in, fmt.Sprintf("files[%d].content is required as a string", i)
		}
		if !stringField(fm["name"], &f.Name) {
			return in, fmt.Sprintf("files[%d].name must be a string", i)
		}
		if !stringField(fm["encoding"], &f.Encoding) {
			return in, fmt.Sprintf("files[%d].encoding must be a string", i)
		}
		switch f.Encoding {
		case "", "utf8", "base64", "hex":
		default:
			return in, fmt.Sprintf("files[%d].encoding must be utf8, base64 or hex, not %q", i, f.Encoding)
		}
		in.Files = append(in.Files, f)
	}
	if !stringField(m["stdin"], &in.Stdin) {
		return in, "stdin must be a string"
	}
	if r := m["args"]; !isNull(r) {
		if err := json.Unmarshal(r, &in.Args); err != nil {
			return in, "args must be an array of strings"
		}
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{
		{"compile_timeout", &in.CompileTimeout}, {"run_timeout", &in.RunTimeout},
		{"compile_cpu_time", &in.CompileCPUTime}, {"run_cpu_time", &in.RunCPUTime},
		{"compile_memory_limit", &in.CompileMemoryLimit}, {"run_memory_limit", &in.RunMemoryLimit},
	} {
		if msg := numberField(f.name, m[f.name], f.dst); msg != "" {
			return in, msg
		}
	}
	return in, ""
}

func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || string(r) == "null"
}

// stringField reads r into dst when it is a string; absent or null leaves
// dst alone. It reports false for any other JSON type.
func stringField(r json.RawMessage, dst *string) bool {
	if isNull(r) {
		return true
	}
	return json.Unmarshal(r, dst) == nil
}

// numberField reads a limit: absent, null, 0 keep the default (Piston skips
// falsy values). A value that is not a number, not whole, or beyond int64 is
// reported with a message naming the field; the bounds are checked later
// against the configured limits.
func numberField(name string, r json.RawMessage, dst *int64) string {
	if isNull(r) {
		return ""
	}
	r = bytes.TrimSpace(r)
	if r[0] != '-' && (r[0] < '0' || r[0] > '9') {
		return fmt.Sprintf("If specified, %s must be a number", name)
	}
	s := string(r)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*dst = v
		return ""
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil && !isRangeErr(err):
		return fmt.Sprintf("If specified, %s must be a number", name)
	case err == nil && f != math.Trunc(f):
		return fmt.Sprintf("%s must be a whole number", name)
	case err == nil && math.Abs(f) < 1<<62:
		*dst = int64(f) // 1e3 and the like
	case s[0] == '-':
		*dst = math.MinInt64
	default:
		// Past int64: past every bound, reported as such.
		*dst = math.MaxInt64
	}
	return ""
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
