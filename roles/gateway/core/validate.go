package core

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

// FieldErrors collects the invalid fields of one request.
type FieldErrors []httpx.FieldError

// Add records that field is invalid, with a message formatted like fmt.Sprintf.
func (e *FieldErrors) Add(field, format string, args ...any) {
	*e = append(*e, httpx.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// ValidationProblem is the 400 answer to a request with invalid fields.
func ValidationProblem(errs []httpx.FieldError) *httpx.Problem {
	return &httpx.Problem{Status: 400, Title: "invalid request", Code: "invalid_request",
		Detail: fmt.Sprintf("%d invalid field(s); see errors", len(errs)), Errors: errs}
}

// Input is a submission as every API can express it, before validation.
// Errors name the fields the way the native API does (source,
// files[0].name, limits.cpu_time_ms, tests[1], Idempotency-Key): the
// compatibility APIs map those names to their own.
type Input struct {
	Language string
	Version  string
	// Source is the one-file shortcut; give Source or Files.
	Source *string
	// Files are the source files; a first file without a name becomes the
	// entry point, named as the language's source file.
	Files       []job.File
	Stdin       string
	Args        []string
	CompileArgs []string
	Tests       []job.TestCase
	// ExpectedOutput is one test case with Stdin; give it or Tests.
	ExpectedOutput *string
	Limits         *job.Limits
	// CompileLimits bound the compile step (each field that is set).
	CompileLimits *job.Limits
	CallbackURL   string
	Priority      string
	Metadata      map[string]string
	// IdempotencyKey is the client's Idempotency-Key header.
	IdempotencyKey string
	// Compat is kept with the request for the API that made it.
	Compat job.Compat
	// MergeStderr: stderr on the stdout pipe (job.Request.MergeStderr).
	MergeStderr bool
	// KeepNames: the first file is the entry point under the name it was
	// sent with (Piston's rule), instead of being renamed to the language's
	// source file name. The executor still renames it when the language's
	// commands need their own name (a compiled language's fixed file, an
	// extension that does not match).
	KeepNames bool
}

// Validate checks in against the configured maximums and the catalog and
// converts it into a queue request for caller c. It reports every invalid
// field; the request is usable only when no error is returned.
func (s *Service) Validate(ctx context.Context, c Caller, in Input) (job.Request, []httpx.FieldError) {
	var errs FieldErrors
	cfg := s.cfg
	out := job.Request{
		Stdin:       in.Stdin,
		Args:        in.Args,
		CompileArgs: in.CompileArgs,
		CallbackURL: in.CallbackURL,
		Priority:    job.Priority(in.Priority),
		Metadata:    in.Metadata,
		APIKeyID:    c.keyID,
		Compat:      in.Compat,
		MergeStderr: in.MergeStderr,
	}
	idemKey := in.IdempotencyKey

	// Language and version.
	var sourceFile string
	switch {
	case strings.TrimSpace(in.Language) == "":
		errs.Add("language", "is required (see GET /v1/languages)")
	default:
		l, ok := s.catalog.Lookup(in.Language, in.Version)
		switch {
		case ok:
			out.Language, out.Version, sourceFile = l.ID, l.Version, l.SourceFile
		case in.Version != "":
			if any, known := s.catalog.Lookup(in.Language, ""); known {
				errs.Add("version", "unknown version %q of %s (available: %s)", in.Version, any.ID, any.Version)
			} else {
				errs.Add("language", "unknown language %q (see GET /v1/languages)", in.Language)
			}
		default:
			errs.Add("language", "unknown language %q (see GET /v1/languages)", in.Language)
		}
	}

	// Source or files.
	switch {
	case in.Source != nil && len(in.Files) > 0:
		errs.Add("source", "give source or files, not both")
	case in.Source != nil:
		if strings.TrimSpace(*in.Source) == "" {
			errs.Add("source", "must not be empty")
		} else if int64(len(*in.Source)) > cfg.MaxSourceBytes {
			errs.Add("source", "is %d bytes, at most %d allowed", len(*in.Source), cfg.MaxSourceBytes)
		} else {
			out.Files = []job.File{{Name: sourceFile, Content: *in.Source}}
		}
	case len(in.Files) == 0:
		errs.Add("source", "is required (or files)")
	case len(in.Files) > cfg.MaxFiles:
		errs.Add("files", "has %d files, at most %d allowed", len(in.Files), cfg.MaxFiles)
	default:
		out.Files = s.validateFiles(in.Files, sourceFile, in.KeepNames, &errs)
	}

	// Stdin, tests, args.
	if int64(len(in.Stdin)) > cfg.MaxStdinBytes {
		errs.Add("stdin", "is %d bytes, at most %d allowed", len(in.Stdin), cfg.MaxStdinBytes)
	}
	switch {
	case in.ExpectedOutput != nil && len(in.Tests) > 0:
		errs.Add("expected_output", "give tests or expected_output, not both")
	case in.ExpectedOutput != nil:
		if int64(len(*in.ExpectedOutput)) > cfg.MaxStdinBytes {
			errs.Add("expected_output", "is %d bytes, at most %d allowed", len(*in.ExpectedOutput), cfg.MaxStdinBytes)
		}
		out.Tests = []job.TestCase{{Stdin: in.Stdin, ExpectedOutput: in.ExpectedOutput}}
		out.Stdin = ""
	case len(in.Tests) > cfg.MaxTests:
		errs.Add("tests", "has %d test cases, at most %d allowed", len(in.Tests), cfg.MaxTests)
	case len(in.Tests) > 0:
		var total int64
		for i, tc := range in.Tests {
			total += int64(len(tc.Stdin))
			if tc.ExpectedOutput != nil {
				total += int64(len(*tc.ExpectedOutput))
			}
			out.Tests = append(out.Tests, job.TestCase{Stdin: tc.Stdin, ExpectedOutput: tc.ExpectedOutput})
			if total > cfg.MaxStdinBytes {
				errs.Add(fmt.Sprintf("tests[%d]", i), "stdin and expected output of all tests exceed %d bytes", cfg.MaxStdinBytes)
				break
			}
		}
	}
	validateArgs("args", in.Args, cfg.MaxArgs, &errs)
	validateArgs("compile_args", in.CompileArgs, cfg.MaxArgs, &errs)

	// Limits.
	if in.Limits != nil {
		out.Limits = *in.Limits
		validateLimits("limits", *in.Limits, cfg.MaxLimits, &errs)
	}
	if in.CompileLimits != nil {
		out.CompileLimits = *in.CompileLimits
		validateLimits("compile_limits", *in.CompileLimits, cfg.MaxLimits, &errs)
	}

	// Delivery options.
	if !out.Priority.Valid() {
		errs.Add("priority", "must be high, normal or low, not %q", in.Priority)
	}
	if in.CallbackURL != "" {
		if err := s.checkCallbackURL(ctx, in.CallbackURL); err != nil {
			errs.Add("callback_url", "%v", err)
		}
	}
	validateMetadata(in.Metadata, cfg.MaxMetadataBytes, &errs)
	if idemKey != "" {
		if len(idemKey) > maxIdempotencyKey || !printableASCII(idemKey) {
			errs.Add("Idempotency-Key", "must be at most %d printable ASCII characters", maxIdempotencyKey)
		} else {
			// Namespaced by API key: two clients never share a submission.
			out.IdempotencyKey = c.keyID + ":" + idemKey
		}
	}
	return out, errs
}

// validateFiles checks names, encodings and sizes, and makes sure the entry
// file carries the language's source file name.
func (s *Service) validateFiles(files []job.File, sourceFile string, keepNames bool, errs *FieldErrors) []job.File {
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
			errs.Add(field+".name", "%s", msg)
		} else if seen[name] {
			errs.Add(field+".name", "duplicate file name %q", name)
		}
		seen[name] = true
		hasEntry = hasEntry || name == sourceFile
		var size int
		switch f.Encoding {
		case "", job.EncodingUTF8:
			size = len(f.Content)
		case job.EncodingBase64:
			b, err := base64.StdEncoding.DecodeString(f.Content)
			if err != nil {
				errs.Add(field+".content", "is not valid base64: %v", err)
			}
			size = len(b)
		default:
			errs.Add(field+".encoding", "must be utf8 or base64, not %q", f.Encoding)
		}
		total += int64(size)
		out = append(out, job.File{Name: name, Content: f.Content, Encoding: f.Encoding})
	}
	switch {
	case total > s.cfg.MaxSourceBytes:
		errs.Add("files", "hold %d bytes, at most %d allowed", total, s.cfg.MaxSourceBytes)
	case total == 0:
		errs.Add("files", "source is empty")
	}
	if !hasEntry && sourceFile != "" && len(out) > 0 && !(keepNames && files[0].Name != "") {
		// The first file is the entry point: give it the name the
		// language's run command expects.
		if seen[sourceFile] {
			errs.Add("files[0].name", "cannot be renamed to %s", sourceFile)
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

func validateArgs(field string, args []string, max int, errs *FieldErrors) {
	if len(args) > max {
		errs.Add(field, "has %d arguments, at most %d allowed", len(args), max)
		return
	}
	for i, a := range args {
		switch {
		case len(a) > maxArgBytes:
			errs.Add(fmt.Sprintf("%s[%d]", field, i), "is longer than %d bytes", maxArgBytes)
		case strings.IndexByte(a, 0) >= 0:
			errs.Add(fmt.Sprintf("%s[%d]", field, i), "must not contain NUL")
		}
	}
}

func validateMetadata(m map[string]string, max int, errs *FieldErrors) {
	total := 0
	for k, v := range m {
		total += len(k) + len(v)
		if k == "" || len(k) > maxMetadataKeyBytes {
			errs.Add("metadata", "keys must be 1 to %d bytes", maxMetadataKeyBytes)
			return
		}
	}
	if total > max {
		errs.Add("metadata", "holds %d bytes, at most %d allowed", total, max)
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
func (s *Service) checkCallbackURL(ctx context.Context, raw string) error {
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
	return s.cb.guard.checkHost(ctx, u.Hostname())
}

// validateLimits checks each limit of l against max, naming it under prefix.
func validateLimits(prefix string, l, max job.Limits, errs *FieldErrors) {
	for _, f := range []struct {
		field    string
		val, max int64
	}{
		{"cpu_time_ms", l.CPUTimeMs, max.CPUTimeMs},
		{"wall_time_ms", l.WallTimeMs, max.WallTimeMs},
		{"memory_kb", l.MemoryKB, max.MemoryKB},
		{"processes", l.Processes, max.Processes},
		{"output_bytes", l.OutputBytes, max.OutputBytes},
		// The file size has no gateway maximum (0): the executor bounds
		// it by its work directory's size. The stack is part of memory.
		{"file_kb", l.FileKB, max.FileKB},
		{"stack_kb", l.StackKB, max.MemoryKB},
	} {
		switch {
		case f.val < 0:
			errs.Add(prefix+"."+f.field, "must not be negative")
		case f.max > 0 && f.val > f.max:
			errs.Add(prefix+"."+f.field, "is %d, at most %d allowed", f.val, f.max)
		}
	}
}
