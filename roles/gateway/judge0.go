package gateway

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
)

// Judge0 CE compatibility: the routes, request fields and response shapes
// of Judge0 1.13, so that a Judge0 client works by changing its base URL.
//
// Verdict mapping (Judge0 has no memory or output limit status):
//   - memory_limit_exceeded -> 12 "Runtime Error (Other)", message "Memory limit exceeded"
//   - output_limit_exceeded -> 8 "Runtime Error (SIGXFSZ)" (what Judge0's isolate reports when
//     output exceeds max_file_size), message "Output limit exceeded"
//   - canceled -> 13 "Internal Error", message "Canceled"
//   - runtime_error: SIGSEGV 7, SIGXFSZ 8, SIGFPE 9, SIGABRT 10, exit code without signal 11 (NZEC),
//     other signals 12; "exec format error" in the message 14.
// DELETE /submissions/{token} cancels an unfinished submission and answers
// it; a finished one is answered unchanged (execbox keeps results for
// history; retention is the storage role's).

// Judge0 limits are in seconds and KB; these are Judge0's maximums when the
// configured ones are higher.
const judge0Version = "1.13.1"

var judge0Statuses = []Judge0Status{
	{1, "In Queue"}, {2, "Processing"}, {3, "Accepted"}, {4, "Wrong Answer"}, {5, "Time Limit Exceeded"},
	{6, "Compilation Error"}, {7, "Runtime Error (SIGSEGV)"}, {8, "Runtime Error (SIGXFSZ)"},
	{9, "Runtime Error (SIGFPE)"}, {10, "Runtime Error (SIGABRT)"}, {11, "Runtime Error (NZEC)"},
	{12, "Runtime Error (Other)"}, {13, "Internal Error"}, {14, "Exec Format Error"},
}

// Judge0Status is a Judge0 status: id 1 to 14.
type Judge0Status struct {
	ID          int    `json:"id"`
	Description string `json:"description"`
}

// Judge0Request is a Judge0 submission. Unknown fields are ignored, as
// Judge0 does; fields execbox cannot honour are accepted and ignored unless
// honouring them matters (enable_network, additional_files: refused).
type Judge0Request struct {
	SourceCode                           *string  `json:"source_code" validate:"required"`
	LanguageID                           flexInt  `json:"language_id" validate:"required"`
	CompilerOptions                      *string  `json:"compiler_options,omitempty"`
	CommandLineArguments                 *string  `json:"command_line_arguments,omitempty"`
	Stdin                                *string  `json:"stdin,omitempty"`
	ExpectedOutput                       *string  `json:"expected_output,omitempty"`
	CPUTimeLimit                         *float64 `json:"cpu_time_limit,omitempty" doc:"Seconds."`
	CPUExtraTime                         *float64 `json:"cpu_extra_time,omitempty" doc:"Ignored."`
	WallTimeLimit                        *float64 `json:"wall_time_limit,omitempty" doc:"Seconds."`
	MemoryLimit                          *float64 `json:"memory_limit,omitempty" doc:"KB."`
	StackLimit                           *int64   `json:"stack_limit,omitempty" doc:"Ignored."`
	MaxProcessesAndOrThreads             *int64   `json:"max_processes_and_or_threads,omitempty"`
	EnablePerProcessAndThreadTimeLimit   *bool    `json:"enable_per_process_and_thread_time_limit,omitempty" doc:"Ignored."`
	EnablePerProcessAndThreadMemoryLimit *bool    `json:"enable_per_process_and_thread_memory_limit,omitempty" doc:"Ignored."`
	MaxFileSize                          *int64   `json:"max_file_size,omitempty" doc:"KB; bounds captured output."`
	RedirectStderrToStdout               *bool    `json:"redirect_stderr_to_stdout,omitempty" doc:"Ignored."`
	EnableNetwork                        *bool    `json:"enable_network,omitempty" doc:"Must be false: sandboxes have no network."`
	NumberOfRuns                         *int     `json:"number_of_runs,omitempty" doc:"Ignored (one run)."`
	AdditionalFiles                      *string  `json:"additional_files,omitempty" doc:"Not supported."`
	CallbackURL                          *string  `json:"callback_url,omitempty" doc:"Receives the finished submission as a PUT."`
}

// flexInt is an integer that also accepts a numeric string ("71"), as
// Judge0 (Rails) does.
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string " + string(b), Type: reflectType[int](), Field: "language_id"}
	}
	*n = flexInt(v)
	return nil
}

// Judge0Token answers a created submission.
type Judge0Token struct {
	Token string `json:"token" validate:"required"`
}

// Judge0BatchRequest is the body of POST /submissions/batch.
type Judge0BatchRequest struct {
	Submissions []Judge0Request `json:"submissions" validate:"required"`
}

// Judge0BatchResponse answers GET /submissions/batch.
type Judge0BatchResponse struct {
	Submissions []*Judge0Submission `json:"submissions" validate:"required"`
}

// Judge0Submission is a submission in Judge0's shape; the fields query
// parameter selects which of these are sent.
type Judge0Submission struct {
	SourceCode           *string      `json:"source_code"`
	LanguageID           int          `json:"language_id"`
	Stdin                *string      `json:"stdin"`
	ExpectedOutput       *string      `json:"expected_output"`
	Stdout               *string      `json:"stdout"`
	Stderr               *string      `json:"stderr"`
	CompileOutput        *string      `json:"compile_output"`
	Message              *string      `json:"message"`
	ExitCode             *int         `json:"exit_code"`
	ExitSignal           *int         `json:"exit_signal"`
	Status               Judge0Status `json:"status"`
	StatusID             int          `json:"status_id"`
	CreatedAt            time.Time    `json:"created_at"`
	FinishedAt           *time.Time   `json:"finished_at"`
	Token                string       `json:"token"`
	Time                 *string      `json:"time" doc:"CPU time in seconds."`
	WallTime             *string      `json:"wall_time" doc:"Wall time in seconds."`
	Memory               *int64       `json:"memory" doc:"Peak memory in KB."`
	CPUTimeLimit         *float64     `json:"cpu_time_limit"`
	WallTimeLimit        *float64     `json:"wall_time_limit"`
	MemoryLimit          *int64       `json:"memory_limit"`
	CompilerOptions      *string      `json:"compiler_options"`
	CommandLineArguments *string      `json:"command_line_arguments"`
	CallbackURL          *string      `json:"callback_url"`
}

// Judge0Language is an entry of GET /languages; Judge0LanguageDetail of
// GET /languages/{id}.
type Judge0Language struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

type Judge0LanguageDetail struct {
	ID         int     `json:"id"`
	Name       string  `json:"name"`
	IsArchived bool    `json:"is_archived"`
	SourceFile string  `json:"source_file"`
	CompileCmd *string `json:"compile_cmd"`
	RunCmd     string  `json:"run_cmd"`
}

// Judge0About answers GET /about.
type Judge0About struct {
	Version    string `json:"version"`
	Homepage   string `json:"homepage"`
	SourceCode string `json:"source_code"`
	Maintainer string `json:"maintainer"`
}

// Metadata keys under which a Judge0 submission remembers what Judge0
// clients will ask back.
const (
	metaJudge0Lang   = "judge0.language_id"
	metaJudge0Base64 = "judge0.base64_encoded"
)

var judge0DefaultFields = []string{"token", "stdout", "stderr", "compile_output", "message", "status", "time", "memory"}

func (r *Role) judge0Routes() []route {
	b64 := param{Name: "base64_encoded", Type: "boolean", Doc: "source_code, stdin, expected_output and the outputs are base64."}
	fields := param{Name: "fields", Type: "string", Doc: "Comma-separated attributes to return, or * for all."}
	token := param{Name: "token", In: "path", Type: "string", Required: true}
	return []route{
		{method: "POST", path: "/submissions", tag: "judge0", summary: "Create a submission (Judge0)",
			request: Judge0Request{}, params: []param{b64, fields, {Name: "wait", Type: "boolean", Doc: "Wait for the result (bounded)."}},
			responses: map[int]any{201: Judge0Submission{}}, handle: r.judge0Create},
		{method: "GET", path: "/submissions/{token}", tag: "judge0", summary: "Get a submission (Judge0)",
			params: []param{token, b64, fields}, responses: map[int]any{200: Judge0Submission{}}, handle: r.judge0Get},
		{method: "DELETE", path: "/submissions/{token}", tag: "judge0", summary: "Cancel a submission (Judge0)",
			params: []param{token, fields}, responses: map[int]any{200: Judge0Submission{}}, handle: r.judge0Delete},
		{method: "POST", path: "/submissions/batch", tag: "judge0", summary: "Create submissions (Judge0)",
			request: Judge0BatchRequest{}, params: []param{b64}, responses: map[int]any{201: []Judge0Token{}}, handle: r.judge0BatchCreate},
		{method: "GET", path: "/submissions/batch", tag: "judge0", summary: "Get submissions (Judge0)",
			params:    []param{{Name: "tokens", Type: "string", Required: true, Doc: "Comma-separated tokens."}, b64, fields},
			responses: map[int]any{200: Judge0BatchResponse{}}, handle: r.judge0BatchGet},
		{method: "GET", path: "/languages", tag: "judge0", summary: "List languages (Judge0)",
			responses: map[int]any{200: []Judge0Language{}}, handle: r.judge0Languages},
		{method: "GET", path: "/languages/all", tag: "judge0", summary: "List languages including archived (Judge0)",
			responses: map[int]any{200: []Judge0Language{}}, handle: r.judge0Languages},
		{method: "GET", path: "/languages/{id}", tag: "judge0", summary: "Get a language (Judge0)",
			params:    []param{{Name: "id", In: "path", Type: "integer", Required: true}},
			responses: map[int]any{200: Judge0LanguageDetail{}}, handle: r.judge0Language},
		{method: "GET", path: "/statuses", tag: "judge0", summary: "List statuses (Judge0)",
			responses: map[int]any{200: []Judge0Status{}}, handle: judge0StatusList},
		{method: "GET", path: "/about", tag: "judge0", summary: "About (Judge0)",
			responses: map[int]any{200: Judge0About{}}, handle: judge0AboutHandler},
		{method: "GET", path: "/config_info", tag: "judge0", summary: "Configuration (Judge0)",
			responses: map[int]any{200: map[string]any{}}, handle: r.judge0ConfigInfo},
	}
}

// judge0Error answers Judge0's {"error": ...} shape.
func judge0Error(w http.ResponseWriter, status int, msg string) {
	httpx.WriteJSON(w, status, map[string]string{"error": msg})
}

// judge0Invalid answers 422 with Judge0's {"field": ["message"]} shape.
func (r *Role) judge0Invalid(w http.ResponseWriter, errs []httpx.FieldError) {
	r.metrics.rejected.WithLabelValues("invalid_request").Inc()
	httpx.WriteJSON(w, http.StatusUnprocessableEntity, judge0ErrorMap(errs))
}

func judge0ErrorMap(errs []httpx.FieldError) map[string][]string {
	out := map[string][]string{}
	for _, e := range errs {
		f := judge0Field(e.Field)
		out[f] = append(out[f], e.Message)
	}
	return out
}

// judge0Field names a native field the way a Judge0 client knows it.
func judge0Field(f string) string {
	switch {
	case f == "source" || strings.HasPrefix(f, "files"):
		return "source_code"
	case f == "language" || f == "version":
		return "language_id"
	case strings.HasPrefix(f, "args"):
		return "command_line_arguments"
	case strings.HasPrefix(f, "compile_args"):
		return "compiler_options"
	case f == "limits.cpu_time_ms":
		return "cpu_time_limit"
	case f == "limits.wall_time_ms":
		return "wall_time_limit"
	case f == "limits.memory_kb":
		return "memory_limit"
	case f == "limits.processes":
		return "max_processes_and_or_threads"
	case f == "limits.output_bytes":
		return "max_file_size"
	case strings.HasPrefix(f, "tests"):
		return "expected_output"
	}
	return f
}

// decodeLenient reads a Judge0 or Piston body: size and content type as
// everywhere, unknown fields ignored (as those servers do).
func (r *Role) decodeLenient(w http.ResponseWriter, req *http.Request, v any, api string) bool {
	var raw json.RawMessage
	if !r.decode(w, req, &raw, api) {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		r.metrics.rejected.WithLabelValues("malformed_json").Inc()
		msg := err.Error()
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			msg = fmt.Sprintf("%s must be %s, not %s", te.Field, te.Type, te.Value)
		}
		writeProblem(w, req, httpx.Problem{Status: http.StatusBadRequest, Title: "malformed JSON", Code: "malformed_json", Detail: msg}, api)
		return false
	}
	return true
}

// fromJudge0 converts a Judge0 request to a native one, checking what only
// Judge0 has (units, base64, unsupported options).
func (r *Role) fromJudge0(in Judge0Request, b64 bool) (SubmissionRequest, []httpx.FieldError) {
	var errs fieldErrors
	langID := int(in.LanguageID)
	out := SubmissionRequest{Metadata: map[string]string{metaJudge0Lang: strconv.Itoa(langID)}}
	if b64 {
		out.Metadata[metaJudge0Base64] = "true"
	}
	if langID == 0 {
		errs.add("language_id", "can't be blank")
	} else if l, ok := r.catalog.ByJudge0ID(langID); ok {
		out.Language = l.ID
	} else {
		errs.add("language_id", "language with id %d doesn't exist", langID)
	}
	text := func(field string, p *string) (string, bool) {
		if p == nil {
			return "", true
		}
		if !b64 {
			return *p, true
		}
		b, err := base64.StdEncoding.DecodeString(*p)
		if err != nil {
			errs.add(field, "is not valid base64")
			return "", false
		}
		if !utf8.Valid(b) || strings.IndexByte(string(b), 0) >= 0 {
			errs.add(field, "must decode to UTF-8 text")
			return "", false
		}
		return string(b), true
	}
	switch {
	case in.SourceCode == nil || *in.SourceCode == "":
		errs.add("source_code", "can't be blank")
	case b64:
		b, err := base64.StdEncoding.DecodeString(*in.SourceCode)
		if err != nil {
			errs.add("source_code", "is not valid base64")
		} else if len(strings.TrimSpace(string(b))) == 0 {
			errs.add("source_code", "can't be blank")
		} else {
			out.Files = []FileInput{{Content: *in.SourceCode, Encoding: string(job.EncodingBase64)}}
		}
	default:
		src := *in.SourceCode
		out.Source = &src
	}
	out.Stdin, _ = text("stdin", in.Stdin)
	if in.ExpectedOutput != nil {
		if s, ok := text("expected_output", in.ExpectedOutput); ok {
			out.ExpectedOutput = &s
		}
	}
	if in.CommandLineArguments != nil {
		out.Args = splitArgs(*in.CommandLineArguments)
	}
	if in.CompilerOptions != nil {
		out.CompileArgs = splitArgs(*in.CompilerOptions)
	}
	lim := &LimitsInput{}
	seconds := func(field string, v *float64, max int64) int64 {
		if v == nil {
			return 0
		}
		if *v < 0 || math.IsNaN(*v) || *v*1000 > float64(max) {
			errs.add(field, "must be between 0 and %g", float64(max)/1000)
			return 0
		}
		return int64(math.Round(*v * 1000))
	}
	lim.CPUTimeMs = seconds("cpu_time_limit", in.CPUTimeLimit, r.cfg.MaxLimits.CPUTimeMs)
	lim.WallTimeMs = seconds("wall_time_limit", in.WallTimeLimit, r.cfg.MaxLimits.WallTimeMs)
	if in.MemoryLimit != nil {
		if *in.MemoryLimit < 0 || *in.MemoryLimit > float64(r.cfg.MaxLimits.MemoryKB) {
			errs.add("memory_limit", "must be between 0 and %d", r.cfg.MaxLimits.MemoryKB)
		} else {
			lim.MemoryKB = int64(*in.MemoryLimit)
		}
	}
	if in.MaxProcessesAndOrThreads != nil {
		lim.Processes = *in.MaxProcessesAndOrThreads
	}
	if in.MaxFileSize != nil {
		lim.OutputBytes = *in.MaxFileSize * 1024
	}
	out.Limits = lim
	if in.EnableNetwork != nil && *in.EnableNetwork {
		errs.add("enable_network", "is not allowed: sandboxes have no network")
	}
	if in.AdditionalFiles != nil && *in.AdditionalFiles != "" {
		errs.add("additional_files", "is not supported; use the native API's files")
	}
	if in.CallbackURL != nil {
		out.CallbackURL = *in.CallbackURL
	}
	return out, errs
}

// splitArgs splits a command line on spaces, honouring single and double
// quotes and backslash escapes (no other shell syntax).
func splitArgs(s string) []string {
	var (
		args  []string
		cur   strings.Builder
		quote rune
		in    bool
		esc   bool
	)
	for _, c := range s {
		switch {
		case esc:
			cur.WriteRune(c)
			esc = false
		case c == '\\' && quote != '\'':
			esc, in = true, true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	if in {
		args = append(args, cur.String())
	}
	return args
}

// judge0Submit validates and queues one Judge0 request.
func (r *Role) judge0Submit(req *http.Request, in Judge0Request, b64 bool) (job.Submission, []httpx.FieldError, error) {
	native, errs := r.fromJudge0(in, b64)
	c := callerFrom(req.Context())
	jr, verrs := r.toJobRequest(req.Context(), native, c, req.Header.Get("Idempotency-Key"))
	errs = append(errs, verrs...)
	if len(errs) > 0 {
		return job.Submission{}, errs, nil
	}
	sub, err := r.enqueue(req.Context(), c, jr, callbackFormat{api: apiJudge0, base64: b64})
	return sub, nil, err
}

func (r *Role) judge0Create(w http.ResponseWriter, req *http.Request) {
	opts, ok := r.judge0Options(w, req)
	if !ok || !r.allow(w, req, apiJudge0, 1) {
		return
	}
	var in Judge0Request
	if !r.decodeLenient(w, req, &in, apiJudge0) {
		return
	}
	sub, errs, err := r.judge0Submit(req, in, opts.base64)
	switch {
	case len(errs) > 0:
		r.judge0Invalid(w, errs)
		return
	case err != nil:
		r.writeError(w, req, err, apiJudge0)
		return
	}
	if !opts.wait {
		httpx.WriteJSON(w, http.StatusCreated, Judge0Token{Token: sub.ID})
		return
	}
	final, _, err := r.wait(req.Context(), callerFrom(req.Context()), sub.ID)
	if err != nil {
		r.writeError(w, req, err, apiJudge0)
		return
	}
	if final.ID == "" {
		final = sub
	}
	r.judge0Write(w, http.StatusCreated, final, opts)
}

type judge0Opts struct {
	base64, wait bool
	fields       []string
}

// judge0Options reads base64_encoded, wait and fields.
func (r *Role) judge0Options(w http.ResponseWriter, req *http.Request) (judge0Opts, bool) {
	var o judge0Opts
	var err error
	if o.base64, err = boolQuery(req, "base64_encoded"); err != nil {
		judge0Error(w, http.StatusBadRequest, "base64_encoded "+err.Error())
		return o, false
	}
	if o.wait, err = boolQuery(req, "wait"); err != nil {
		judge0Error(w, http.StatusBadRequest, "wait "+err.Error())
		return o, false
	}
	o.fields = judge0DefaultFields
	if f := req.URL.Query().Get("fields"); f != "" {
		o.fields = nil
		var bad []string
		for _, name := range strings.Split(f, ",") {
			name = strings.TrimSpace(name)
			switch {
			case name == "*":
				o.fields = append(o.fields, "*")
			case judge0FieldNames[name]:
				o.fields = append(o.fields, name)
			case name != "":
				bad = append(bad, name)
			}
		}
		if len(bad) > 0 {
			judge0Error(w, http.StatusBadRequest, "invalid fields: ["+strings.Join(bad, ", ")+"]")
			return o, false
		}
	}
	return o, true
}

var judge0FieldNames = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range jsonFields(reflectType[Judge0Submission]()) {
		m[f.name] = true
	}
	return m
}()

// errNotUTF8 is Judge0's answer when an output needs base64.
const errNotUTF8 = "some attributes for this submission cannot be converted to UTF-8, use base64_encoded=true query parameter"

// judge0Write answers one submission with the selected fields.
func (r *Role) judge0Write(w http.ResponseWriter, status int, s job.Submission, o judge0Opts) {
	v, err := r.judge0Fields(s, o)
	if err != nil {
		judge0Error(w, http.StatusBadRequest, err.Error())
		return
	}
	httpx.WriteJSON(w, status, v)
}

// judge0Fields renders s and keeps the selected fields.
func (r *Role) judge0Fields(s job.Submission, o judge0Opts) (map[string]any, error) {
	full, err := r.toJudge0(s, o.base64)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(full)
	var all map[string]any
	_ = json.Unmarshal(b, &all)
	if len(o.fields) == 1 && o.fields[0] == "*" {
		return all, nil
	}
	out := make(map[string]any, len(o.fields))
	for _, f := range o.fields {
		if f == "*" {
			return all, nil
		}
		out[f] = all[f]
	}
	return out, nil
}

// toJudge0 renders a submission in Judge0's shape.
func (r *Role) toJudge0(s job.Submission, b64 bool) (*Judge0Submission, error) {
	out := &Judge0Submission{Token: s.ID, CreatedAt: s.CreatedAt}
	if !s.FinishedAt.IsZero() {
		t := s.FinishedAt
		out.FinishedAt = &t
	}
	out.LanguageID, _ = strconv.Atoi(s.Request.Metadata[metaJudge0Lang])
	if out.LanguageID == 0 {
		if l, ok := r.catalog.Lookup(s.Request.Language, ""); ok && len(l.Judge0IDs) > 0 {
			out.LanguageID = l.Judge0IDs[0]
		}
	}
	enc := func(b []byte) (*string, error) {
		if len(b) == 0 {
			return nil, nil
		}
		if b64 {
			v := base64.StdEncoding.EncodeToString(b)
			return &v, nil
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("%s", errNotUTF8)
		}
		v := string(b)
		return &v, nil
	}
	var err error
	text := func(dst **string, b []byte) {
		if err == nil {
			*dst, err = enc(b)
		}
	}
	output := func(dst **string, o job.Output) {
		b, e := o.Bytes()
		if e != nil && err == nil {
			err = e
		}
		text(dst, b)
	}
	if len(s.Request.Files) > 0 {
		b, e := s.Request.Files[0].Bytes()
		if e == nil {
			text(&out.SourceCode, b)
		}
	}
	stdin := s.Request.Stdin
	if len(s.Request.Tests) > 0 {
		stdin = s.Request.Tests[0].Stdin
		if eo := s.Request.Tests[0].ExpectedOutput; eo != nil {
			text(&out.ExpectedOutput, []byte(*eo))
		}
	}
	text(&out.Stdin, []byte(stdin))
	if len(s.Request.Args) > 0 {
		v := strings.Join(s.Request.Args, " ")
		out.CommandLineArguments = &v
	}
	if len(s.Request.CompileArgs) > 0 {
		v := strings.Join(s.Request.CompileArgs, " ")
		out.CompilerOptions = &v
	}
	if s.Request.CallbackURL != "" {
		v := s.Request.CallbackURL
		out.CallbackURL = &v
	}
	if l := s.Request.Limits; l.CPUTimeMs > 0 || l.WallTimeMs > 0 || l.MemoryKB > 0 {
		if l.CPUTimeMs > 0 {
			v := float64(l.CPUTimeMs) / 1000
			out.CPUTimeLimit = &v
		}
		if l.WallTimeMs > 0 {
			v := float64(l.WallTimeMs) / 1000
			out.WallTimeLimit = &v
		}
		if l.MemoryKB > 0 {
			v := l.MemoryKB
			out.MemoryLimit = &v
		}
	}
	st, msg := judge0StatusOf(s)
	out.Status, out.StatusID = st, st.ID
	if res := s.Result; res != nil {
		if res.Compile != nil {
			var b []byte
			for _, o := range []job.Output{res.Compile.Stdout, res.Compile.Stderr} {
				raw, e := o.Bytes()
				if e == nil {
					b = append(b, raw...)
				}
			}
			text(&out.CompileOutput, b)
		}
		if run := mainRun(res); run != nil {
			output(&out.Stdout, run.Stdout)
			output(&out.Stderr, run.Stderr)
			if s.Status != job.StatusCompilationError {
				code := run.ExitCode
				out.ExitCode = &code
				if n, ok := signalNumbers[run.Signal]; ok {
					out.ExitSignal = &n
				}
				t := fmt.Sprintf("%.3f", run.CPUTimeMs/1000)
				wt := fmt.Sprintf("%.3f", run.WallTimeMs/1000)
				mem := run.MemoryKB
				out.Time, out.WallTime, out.Memory = &t, &wt, &mem
			}
		}
	}
	if msg != "" {
		text(&out.Message, []byte(msg))
	}
	return out, err
}

// mainRun is the run Judge0 and Piston report: the first.
func mainRun(res *job.Result) *job.Step {
	if res.Run != nil {
		return res.Run
	}
	if len(res.Tests) > 0 {
		return &res.Tests[0]
	}
	return nil
}

var signalNumbers = map[string]int{
	"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6, "SIGBUS": 7, "SIGFPE": 8,
	"SIGKILL": 9, "SIGUSR1": 10, "SIGSEGV": 11, "SIGUSR2": 12, "SIGPIPE": 13, "SIGALRM": 14, "SIGTERM": 15,
	"SIGXCPU": 24, "SIGXFSZ": 25, "SIGSYS": 31,
}

// judge0StatusOf maps a submission's status to Judge0's, with the message
// Judge0 would show.
func judge0StatusOf(s job.Submission) (Judge0Status, string) {
	st := func(id int) Judge0Status { return judge0Statuses[id-1] }
	msg := ""
	if s.Result != nil {
		msg = s.Result.Message
	}
	switch s.Status {
	case job.StatusQueued, "":
		return st(1), ""
	case job.StatusRunning:
		return st(2), ""
	case job.StatusAccepted:
		return st(3), msg
	case job.StatusWrongAnswer:
		return st(4), msg
	case job.StatusTimeLimit:
		return st(5), orDefault(msg, "Time limit exceeded")
	case job.StatusCompilationError:
		return st(6), msg
	case job.StatusMemoryLimit:
		return st(12), orDefault(msg, "Memory limit exceeded")
	case job.StatusOutputLimit:
		return st(8), orDefault(msg, "Output limit exceeded")
	case job.StatusCanceled:
		return st(13), orDefault(msg, "Canceled")
	case job.StatusInternalError:
		return st(13), msg
	case job.StatusRuntimeError:
		var run *job.Step
		if s.Result != nil {
			run = failedRun(s.Result)
		}
		if run == nil {
			return st(11), msg
		}
		if strings.Contains(strings.ToLower(run.Message+" "+msg), "exec format error") {
			return st(14), orDefault(msg, run.Message)
		}
		switch run.Signal {
		case "":
			return st(11), orDefault(msg, fmt.Sprintf("Exited with error status %d", run.ExitCode))
		case "SIGSEGV":
			return st(7), msg
		case "SIGXFSZ":
			return st(8), msg
		case "SIGFPE":
			return st(9), msg
		case "SIGABRT":
			return st(10), msg
		}
		return st(12), orDefault(msg, "Killed by "+run.Signal)
	}
	return st(13), msg
}

// failedRun is the first run with a runtime error (or the main run).
func failedRun(res *job.Result) *job.Step {
	for i := range res.Tests {
		if res.Tests[i].Verdict == job.StatusRuntimeError {
			return &res.Tests[i]
		}
	}
	return mainRun(res)
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func (r *Role) judge0Get(w http.ResponseWriter, req *http.Request) {
	opts, ok := r.judge0Options(w, req)
	if !ok {
		return
	}
	sub, err := r.lookup(req.Context(), callerFrom(req.Context()), req.PathValue("token"))
	if err != nil {
		r.writeError(w, req, err, apiJudge0)
		return
	}
	r.judge0Write(w, http.StatusOK, sub, opts)
}

func (r *Role) judge0Delete(w http.ResponseWriter, req *http.Request) {
	opts, ok := r.judge0Options(w, req)
	if !ok || !r.allow(w, req, apiJudge0, 1) {
		return
	}
	c := callerFrom(req.Context())
	sub, err := r.cancel(req, c, req.PathValue("token"))
	if err != nil && !errorsIsFinal(err) {
		r.writeError(w, req, err, apiJudge0)
		return
	}
	r.judge0Write(w, http.StatusOK, sub, opts)
}

func errorsIsFinal(err error) bool { return errors.Is(err, queue.ErrFinal) }

func (r *Role) judge0BatchCreate(w http.ResponseWriter, req *http.Request) {
	opts, ok := r.judge0Options(w, req)
	if !ok {
		return
	}
	var in Judge0BatchRequest
	if !r.decodeLenient(w, req, &in, apiJudge0) {
		return
	}
	if n := len(in.Submissions); n == 0 || n > r.cfg.MaxBatch {
		r.judge0Invalid(w, []httpx.FieldError{{Field: "submissions",
			Message: fmt.Sprintf("size must be between 1 and %d", r.cfg.MaxBatch)}})
		return
	}
	if !r.allow(w, req, apiJudge0, len(in.Submissions)) {
		return
	}
	out := make([]any, len(in.Submissions))
	for i, s := range in.Submissions {
		sub, errs, err := r.judge0Submit(req, s, opts.base64)
		switch {
		case len(errs) > 0:
			r.metrics.rejected.WithLabelValues("invalid_request").Inc()
			out[i] = judge0ErrorMap(errs)
		case err != nil:
			p := problemFor(err)
			out[i] = map[string]string{"error": orDefault(p.Detail, p.Title)}
		default:
			out[i] = Judge0Token{Token: sub.ID}
		}
	}
	httpx.WriteJSON(w, http.StatusCreated, out)
}

func (r *Role) judge0BatchGet(w http.ResponseWriter, req *http.Request) {
	opts, ok := r.judge0Options(w, req)
	if !ok {
		return
	}
	var tokens []string
	for _, t := range strings.Split(req.URL.Query().Get("tokens"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			tokens = append(tokens, t)
		}
	}
	if len(tokens) == 0 || len(tokens) > r.cfg.MaxBatch {
		judge0Error(w, http.StatusBadRequest, fmt.Sprintf("tokens: give 1 to %d comma-separated tokens", r.cfg.MaxBatch))
		return
	}
	c := callerFrom(req.Context())
	out := struct {
		Submissions []any `json:"submissions"`
	}{Submissions: make([]any, len(tokens))}
	for i, t := range tokens {
		sub, err := r.lookup(req.Context(), c, t)
		if err != nil {
			if problemFor(err).Status != http.StatusNotFound {
				r.writeError(w, req, err, apiJudge0)
				return
			}
			continue // null, as Judge0 answers unknown tokens
		}
		v, err := r.judge0Fields(sub, opts)
		if err != nil {
			judge0Error(w, http.StatusBadRequest, err.Error())
			return
		}
		out.Submissions[i] = v
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (r *Role) judge0LanguageList() []Judge0LanguageDetail {
	var out []Judge0LanguageDetail
	for _, l := range r.catalog.All() {
		for _, id := range l.Judge0IDs {
			d := Judge0LanguageDetail{ID: id, Name: fmt.Sprintf("%s (%s)", l.Name, l.Version), SourceFile: l.SourceFile,
				RunCmd: strings.Join(l.Run, " ")}
			if len(l.Compile) > 0 {
				c := strings.Join(l.Compile, " ")
				d.CompileCmd = &c
			}
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (r *Role) judge0Languages(w http.ResponseWriter, _ *http.Request) {
	list := r.judge0LanguageList()
	out := make([]Judge0Language, 0, len(list))
	for _, l := range list {
		out = append(out, Judge0Language{ID: l.ID, Name: l.Name})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (r *Role) judge0Language(w http.ResponseWriter, req *http.Request) {
	id, err := strconv.Atoi(req.PathValue("id"))
	if err == nil {
		for _, l := range r.judge0LanguageList() {
			if l.ID == id {
				httpx.WriteJSON(w, http.StatusOK, l)
				return
			}
		}
	}
	judge0Error(w, http.StatusNotFound, "language not found")
}

func judge0StatusList(w http.ResponseWriter, _ *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, judge0Statuses)
}

func judge0AboutHandler(w http.ResponseWriter, _ *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, Judge0About{Version: judge0Version, Homepage: "https://judge0.com",
		SourceCode: "https://github.com/judge0/judge0", Maintainer: "execbox (Judge0 CE compatible API)"})
}

func (r *Role) judge0ConfigInfo(w http.ResponseWriter, _ *http.Request) {
	c := r.cfg
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"maintenance_mode":                                 false,
		"enable_wait_result":                               true,
		"enable_compiler_options":                          true,
		"allowed_languages_for_compile_options":            []string{},
		"enable_command_line_arguments":                    true,
		"enable_submission_delete":                         true,
		"enable_callbacks":                                 true,
		"callbacks_max_tries":                              c.CallbackAttempts,
		"callbacks_timeout":                                c.CallbackTimeout.Seconds(),
		"enable_additional_files":                          false,
		"max_queue_size":                                   nil,
		"cpu_time_limit":                                   nil,
		"max_cpu_time_limit":                               float64(c.MaxLimits.CPUTimeMs) / 1000,
		"cpu_extra_time":                                   0,
		"max_cpu_extra_time":                               0,
		"wall_time_limit":                                  nil,
		"max_wall_time_limit":                              float64(c.MaxLimits.WallTimeMs) / 1000,
		"memory_limit":                                     nil,
		"max_memory_limit":                                 c.MaxLimits.MemoryKB,
		"stack_limit":                                      nil,
		"max_stack_limit":                                  nil,
		"max_processes_and_or_threads":                     nil,
		"max_max_processes_and_or_threads":                 c.MaxLimits.Processes,
		"enable_per_process_and_thread_time_limit":         false,
		"allow_enable_per_process_and_thread_time_limit":   false,
		"enable_per_process_and_thread_memory_limit":       false,
		"allow_enable_per_process_and_thread_memory_limit": false,
		"max_file_size":                                    nil,
		"max_max_file_size":                                c.MaxLimits.OutputBytes / 1024,
		"number_of_runs":                                   1,
		"max_number_of_runs":                               1,
		"redirect_stderr_to_stdout":                        false,
		"max_extract_size":                                 0,
		"enable_batched_submissions":                       true,
		"max_submission_batch_size":                        c.MaxBatch,
		"submission_cache_duration":                        0,
		"use_docs_as_homepage":                             false,
		"allow_enable_network":                             false,
		"enable_network":                                   false,
	})
}
