package judge0

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway/core"
)

// Conversion: a Judge0 request into the core's input, a submission into
// Judge0's shape, and the core's field names into Judge0's.

// legacyMetaLanguageID is the metadata key under which submissions made
// before job.Compat existed kept their Judge0 language id; such submissions
// are still answered with it.
const legacyMetaLanguageID = "judge0.language_id"

// errorMap is Judge0's {"field": ["message"]} body.
func errorMap(errs []httpx.FieldError) map[string][]string {
	out := map[string][]string{}
	for _, e := range errs {
		f := fieldName(e.Field)
		out[f] = append(out[f], e.Message)
	}
	return out
}

// fieldName names a core field (named as the native API does) the way a
// Judge0 client knows it.
func fieldName(f string) string {
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

// toInput converts a Judge0 request to the core's input, checking what
// only Judge0 has (units, base64, unsupported options).
func (a *API) toInput(in Request, b64 bool) (core.Input, []httpx.FieldError) {
	var errs core.FieldErrors
	langID := int(in.LanguageID)
	out := core.Input{Compat: job.Compat{API: apiName, LanguageID: langID, Base64: b64}}
	if langID == 0 {
		errs.Add("language_id", "can't be blank")
	} else if l, ok := a.svc.Catalog().ByJudge0ID(langID); ok {
		out.Language = l.ID
	} else {
		errs.Add("language_id", "language with id %d doesn't exist", langID)
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
			errs.Add(field, "is not valid base64")
			return "", false
		}
		if !utf8.Valid(b) || strings.IndexByte(string(b), 0) >= 0 {
			errs.Add(field, "must decode to UTF-8 text")
			return "", false
		}
		return string(b), true
	}
	switch {
	case in.SourceCode == nil || *in.SourceCode == "":
		errs.Add("source_code", "can't be blank")
	case b64:
		b, err := base64.StdEncoding.DecodeString(*in.SourceCode)
		if err != nil {
			errs.Add("source_code", "is not valid base64")
		} else if len(strings.TrimSpace(string(b))) == 0 {
			errs.Add("source_code", "can't be blank")
		} else {
			out.Files = []job.File{{Content: *in.SourceCode, Encoding: job.EncodingBase64}}
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
	lim := &job.Limits{}
	seconds := func(field string, v *float64, max int64) int64 {
		if v == nil {
			return 0
		}
		if *v < 0 || math.IsNaN(*v) || *v*1000 > float64(max) {
			errs.Add(field, "must be between 0 and %g", float64(max)/1000)
			return 0
		}
		return int64(math.Round(*v * 1000))
	}
	lim.CPUTimeMs = seconds("cpu_time_limit", in.CPUTimeLimit, a.svc.Config().MaxLimits.CPUTimeMs)
	lim.WallTimeMs = seconds("wall_time_limit", in.WallTimeLimit, a.svc.Config().MaxLimits.WallTimeMs)
	if in.MemoryLimit != nil {
		if *in.MemoryLimit < 0 || *in.MemoryLimit > float64(a.svc.Config().MaxLimits.MemoryKB) {
			errs.Add("memory_limit", "must be between 0 and %d", a.svc.Config().MaxLimits.MemoryKB)
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
		errs.Add("enable_network", "is not allowed: sandboxes have no network")
	}
	if in.AdditionalFiles != nil && *in.AdditionalFiles != "" {
		errs.Add("additional_files", "is not supported; use the native API's files")
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

// render renders s and keeps the selected fields.
func (a *API) render(s job.Submission, o answerOpts) (map[string]any, error) {
	full, err := a.toSubmission(s, o.base64)
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

// toSubmission renders a submission in Judge0's shape.
func (a *API) toSubmission(s job.Submission, b64 bool) (*Submission, error) {
	out := &Submission{Token: s.ID, CreatedAt: s.CreatedAt}
	if !s.FinishedAt.IsZero() {
		t := s.FinishedAt
		out.FinishedAt = &t
	}
	out.LanguageID = s.Request.Compat.LanguageID
	if out.LanguageID == 0 {
		// Submissions made before job.Compat kept the id in metadata.
		out.LanguageID, _ = strconv.Atoi(s.Request.Metadata[legacyMetaLanguageID])
	}
	if out.LanguageID == 0 {
		if l, ok := a.svc.Catalog().Lookup(s.Request.Language, ""); ok && len(l.Judge0IDs) > 0 {
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
	st, msg := statusOf(s)
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
		if run := core.MainRun(res); run != nil {
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

var signalNumbers = map[string]int{
	"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6, "SIGBUS": 7, "SIGFPE": 8,
	"SIGKILL": 9, "SIGUSR1": 10, "SIGSEGV": 11, "SIGUSR2": 12, "SIGPIPE": 13, "SIGALRM": 14, "SIGTERM": 15,
	"SIGXCPU": 24, "SIGXFSZ": 25, "SIGSYS": 31,
}
