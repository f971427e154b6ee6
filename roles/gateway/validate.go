package gateway

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
)

const (
	maxFileNameBytes    = 255
	maxArgBytes         = 4096
	maxCallbackURLBytes = 2048
	maxIdempotencyKey   = 255
	maxMetadataKeyBytes = 64
)

// fieldErrors collects the invalid fields of one request.
type fieldErrors []httpx.FieldError

func (e *fieldErrors) add(field, format string, args ...any) {
	*e = append(*e, httpx.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// validationProblem is the 400 answer to a request with invalid fields.
func validationProblem(errs []httpx.FieldError) *httpx.Problem {
	return &httpx.Problem{Status: 400, Title: "invalid request", Code: "invalid_request",
		Detail: fmt.Sprintf("%d invalid field(s); see errors", len(errs)), Errors: errs}
}

// toJobRequest validates in against the configured maximums and the catalog
// and converts it into a queue request. It reports every invalid field; the
// request is usable only when no error is returned.
func (r *Role) toJobRequest(ctx context.Context, in SubmissionRequest, c caller, idemKey string) (job.Request, []httpx.FieldError) {
	var errs fieldErrors
	cfg := r.cfg
	out := job.Request{
		Stdin:       in.Stdin,
		Args:        in.Args,
		CompileArgs: in.CompileArgs,
		CallbackURL: in.CallbackURL,
		Priority:    job.Priority(in.Priority),
		Metadata:    in.Metadata,
		APIKeyID:    c.keyID,
	}

	// Language and version.
	var sourceFile string
	switch {
	case strings.TrimSpace(in.Language) == "":
		errs.add("language", "is required (see GET /v1/languages)")
	default:
		l, ok := r.catalog.Lookup(in.Language, in.Version)
		switch {
		case ok:
			out.Language, out.Version, sourceFile = l.ID, l.Version, l.SourceFile
		case in.Version != "":
			if any, known := r.catalog.Lookup(in.Language, ""); known {
				errs.add("version", "unknown version %q of %s (available: %s)", in.Version, any.ID, any.Version)
			} else {
				errs.add("language", "unknown language %q (see GET /v1/languages)", in.Language)
			}
		default:
			errs.add("language", "unknown language %q (see GET /v1/languages)", in.Language)
		}
	}

	// Source or files.
	switch {
	case in.Source != nil && len(in.Files) > 0:
		errs.add("source", "give source or files, not both")
	case in.Source != nil:
		if strings.TrimSpace(*in.Source) == "" {
			errs.add("source", "must not be empty")
		} else if int64(len(*in.Source)) > cfg.MaxSourceBytes {
			errs.add("source", "is %d bytes, at most %d allowed", len(*in.Source), cfg.MaxSourceBytes)
		} else {
			out.Files = []job.File{{Name: sourceFile, Content: *in.Source}}
		}
	case len(in.Files) == 0:
		errs.add("source", "is required (or files)")
	case len(in.Files) > cfg.MaxFiles:
		errs.add("files", "has %d files, at most %d allowed", len(in.Files), cfg.MaxFiles)
	default:
		out.Files = r.validateFiles(in.Files, sourceFile, &errs)
	}

	// Stdin, tests, args.
	if int64(len(in.Stdin)) > cfg.MaxStdinBytes {
		errs.add("stdin", "is %d bytes, at most %d allowed", len(in.Stdin), cfg.MaxStdinBytes)
	}
	switch {
	case in.ExpectedOutput != nil && len(in.Tests) > 0:
		errs.add("expected_output", "give tests or expected_output, not both")
	case in.ExpectedOutput != nil:
		if int64(len(*in.ExpectedOutput)) > cfg.MaxStdinBytes {
			errs.add("expected_output", "is %d bytes, at most %d allowed", len(*in.ExpectedOutput), cfg.MaxStdinBytes)
		}
		out.Tests = []job.TestCase{{Stdin: in.Stdin, ExpectedOutput: in.ExpectedOutput}}
		out.Stdin = ""
	case len(in.Tests) > cfg.MaxTests:
		errs.add("tests", "has %d test cases, at most %d allowed", len(in.Tests), cfg.MaxTests)
	case len(in.Tests) > 0:
		var total int64
		for i, tc := range in.Tests {
			total += int64(len(tc.Stdin))
			if tc.ExpectedOutput != nil {
				total += int64(len(*tc.ExpectedOutput))
			}
			out.Tests = append(out.Tests, job.TestCase{Stdin: tc.Stdin, ExpectedOutput: tc.ExpectedOutput})
			if total > cfg.MaxStdinBytes {
				errs.add(fmt.Sprintf("tests[%d]", i), "stdin and expected output of all tests exceed %d bytes", cfg.MaxStdinBytes)
				break
			}
		}
	}
	validateArgs("args", in.Args, cfg.MaxArgs, &errs)
	validateArgs("compile_args", in.CompileArgs, cfg.MaxArgs, &errs)

	// Limits.
	if in.Limits != nil {
		out.Limits = job.Limits{CPUTimeMs: in.Limits.CPUTimeMs, WallTimeMs: in.Limits.WallTimeMs,
			MemoryKB: in.Limits.MemoryKB, Processes: in.Limits.Processes, OutputBytes: in.Limits.OutputBytes}
		for _, l := range []struct {
			field    string
			val, max int64
		}{
			{"limits.cpu_time_ms", in.Limits.CPUTimeMs, cfg.MaxLimits.CPUTimeMs},
			{"limits.wall_time_ms", in.Limits.WallTimeMs, cfg.MaxLimits.WallTimeMs},
			{"limits.memory_kb", in.Limits.MemoryKB, cfg.MaxLimits.MemoryKB},
			{"limits.processes", in.Limits.Processes, cfg.MaxLimits.Processes},
			{"limits.output_bytes", in.Limits.OutputBytes, cfg.MaxLimits.OutputBytes},
		} {
			switch {
			case l.val < 0:
				errs.add(l.field, "must not be negative")
			case l.val > l.max:
				errs.add(l.field, "is %d, at most %d allowed", l.val, l.max)
			}
		}
	}

	// Delivery options.
	if !out.Priority.Valid() {
		errs.add("priority", "must be high, normal or low, not %q", in.Priority)
	}
	if in.CallbackURL != "" {
		if err := r.checkCallbackURL(ctx, in.CallbackURL); err != nil {
			errs.add("callback_url", "%v", err)
		}
	}
	validateMetadata(in.Metadata, cfg.MaxMetadataBytes, &errs)
	if idemKey != "" {
		if len(idemKey) > maxIdempotencyKey || !printableASCII(idemKey) {
			errs.add("Idempotency-Key", "must be at most %d printable ASCII characters", maxIdempotencyKey)
		} else {
			// Namespaced by API key: two clients never share a submission.
			out.IdempotencyKey = c.keyID + ":" + idemKey
		}
	}
	return out, errs
}

// validateFiles checks names, encodings and sizes, and makes sure the entry
// file carries the language's source file name.
func (r *Role) validateFiles(files []FileInput, sourceFile string, errs *fieldErrors) []job.File {
	out := make([]job.File, 0, len(files))
	seen := map[string]bool{}
	var total int64
	hasEntry := false
	for i, f := range files {
		field := fmt.Sprintf("files[%d]", i)
		name := f.Name
		if name == "" && i == 0 && sourceFile != "" {
			name = sourceFile
		}
		if msg := checkFileName(name); msg != "" {
			errs.add(field+".name", "%s", msg)
		} else if seen[name] {
			errs.add(field+".name", "duplicate file name %q", name)
		}
		seen[name] = true
		hasEntry = hasEntry || name == sourceFile
		var size int
		switch job.Encoding(f.Encoding) {
		case "", job.EncodingUTF8:
			size = len(f.Content)
		case job.EncodingBase64:
			b, err := base64.StdEncoding.DecodeString(f.Content)
			if err != nil {
				errs.add(field+".content", "is not valid base64: %v", err)
			}
			size = len(b)
		default:
			errs.add(field+".encoding", "must be utf8 or base64, not %q", f.Encoding)
		}
		total += int64(size)
		out = append(out, job.File{Name: name, Content: f.Content, Encoding: job.Encoding(f.Encoding)})
	}
	switch {
	case total > r.cfg.MaxSourceBytes:
		errs.add("files", "hold %d bytes, at most %d allowed", total, r.cfg.MaxSourceBytes)
	case total == 0:
		errs.add("files", "source is empty")
	}
	if !hasEntry && sourceFile != "" && len(out) > 0 {
		// The first file is the entry point: give it the name the
		// language's run command expects.
		if seen[sourceFile] {
			errs.add("files[0].name", "cannot be renamed to %s", sourceFile)
		} else {
			out[0].Name = sourceFile
		}
	}
	return out
}

func checkFileName(name string) string {
	switch {
	case name == "":
		return "is required"
	case len(name) > maxFileNameBytes:
		return fmt.Sprintf("is longer than %d bytes", maxFileNameBytes)
	case name == "." || name == "..":
		return "must be a plain file name"
	case strings.ContainsAny(name, "/\\\x00"):
		return "must be a plain file name (no slashes, no NUL)"
	case !utf8.ValidString(name):
		return "must be UTF-8"
	}
	for _, c := range name {
		if c < ' ' || c == 0x7f {
			return "must not contain control characters"
		}
	}
	return ""
}

func validateArgs(field string, args []string, max int, errs *fieldErrors) {
	if len(args) > max {
		errs.add(field, "has %d arguments, at most %d allowed", len(args), max)
		return
	}
	for i, a := range args {
		switch {
		case len(a) > maxArgBytes:
			errs.add(fmt.Sprintf("%s[%d]", field, i), "is longer than %d bytes", maxArgBytes)
		case strings.IndexByte(a, 0) >= 0:
			errs.add(fmt.Sprintf("%s[%d]", field, i), "must not contain NUL")
		}
	}
}

func validateMetadata(m map[string]string, max int, errs *fieldErrors) {
	total := 0
	for k, v := range m {
		total += len(k) + len(v)
		if k == "" || len(k) > maxMetadataKeyBytes {
			errs.add("metadata", "keys must be 1 to %d bytes", maxMetadataKeyBytes)
			return
		}
	}
	if total > max {
		errs.add("metadata", "holds %d bytes, at most %d allowed", total, max)
	}
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// checkCallbackURL refuses callback URLs that are malformed or point at
// addresses the gateway must not reach (unless allowed by the operator).
func (r *Role) checkCallbackURL(ctx context.Context, raw string) error {
	if len(raw) > maxCallbackURLBytes {
		return fmt.Errorf("is longer than %d bytes", maxCallbackURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be an http or https URL")
	}
	if u.Hostname() == "" {
		return fmt.Errorf("has no host")
	}
	if u.User != nil {
		return fmt.Errorf("must not carry credentials")
	}
	return r.cb.guard.checkHost(ctx, u.Hostname())
}
