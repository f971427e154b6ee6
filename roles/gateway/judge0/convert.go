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
	case f == "source" || f == "files" || strings.HasPrefix(f, "files[0]"):
		return "source_code"
	case strings.HasPrefix(f, "files["):
		// Every file after the source came from the zip.
		return "additional_files"
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
	case f == "limits.output_bytes" || f == "limits.file_kb":
		return "max_file_size"
	case f == "limits.stack_kb":
		return "stack_limit"
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
		out.Compat.CommandLine = *in.CommandLineArguments
	}
	if in.CompilerOptions != nil {
		out.CompileArgs = splitArgs(*in.CompilerOptions)
	}
	lim, max := &job.Limits{}, a.svc.Config().MaxLimits
	var langDefaults job.Limits
	if l, ok := a.svc.Catalog().Lookup(out.Language, ""); ok && out.Language != "" {
		langDefaults = l.Limits
	}
	// Each number is checked as Judge0's model validates it, with Rails'
	// messages, before any unit conversion (so nothing can wrap).
	num := func(field string, v *float64, min float64, minExclusive bool, maxV float64) (float64, bool) {
		switch {
		case v == nil:
			return 0, false
		case math.IsNaN(*v) || math.IsInf(*v, 0):
			errs.Add(field, "is not a number")
		case minExclusive && *v <= min:
			errs.Add(field, "must be greater than %s", ruby(min))
		case !minExclusive && *v < min:
			errs.Add(field, "must be greater than or equal to %s", ruby(min))
		case *v > maxV:
			errs.Add(field, "must be less than or equal to %s", ruby(maxV))
		default:
			return *v, true
		}
		return 0, false
	}
	if v, ok := num("cpu_time_limit", in.CPUTimeLimit, 0, false, float64(max.CPUTimeMs)/1000); ok {
		lim.CPUTimeMs = int64(math.Round(v * 1000))
	}
	if v, ok := num("cpu_extra_time", in.CPUExtraTime, 0, false, maxCPUExtraTime); ok && v > 0 {
		// The program is killed after the limit and the extra time; a run
		// that used more than the limit is still a time limit exceeded
		// (statusOf), with its real time reported, as Judge0's isolate -x.
		base := effective(*lim, langDefaults).CPUTimeMs
		if base > 0 {
			out.Compat.CPUTimeMs = base
			out.Compat.CPUExtraMs = int64(math.Round(v * 1000))
			lim.CPUTimeMs = min(base+out.Compat.CPUExtraMs, max.CPUTimeMs)
		}
	}
	if v, ok := num("wall_time_limit", in.WallTimeLimit, 1, false, float64(max.WallTimeMs)/1000); ok {
		lim.WallTimeMs = int64(math.Round(v * 1000))
	}
	if v, ok := num("memory_limit", in.MemoryLimit, minMemoryLimit, false, float64(max.MemoryKB)); ok {
		lim.MemoryKB = int64(v)
	}
	if v, ok := num("stack_limit", in.StackLimit, 0, false, float64(max.MemoryKB)); ok {
		lim.StackKB = int64(v)
	}
	if v, ok := num("max_processes_and_or_threads", in.MaxProcessesAndOrThreads, 0, true, float64(max.Processes)); ok {
		lim.Processes = int64(v)
	}
	if v, ok := num("max_file_size", in.MaxFileSize, 0, false, float64(max.OutputBytes/1024)); ok && v > 0 {
		// Judge0's isolate -f bounds every file the program writes, its
		// redirected stdout and stderr included.
		lim.OutputBytes = int64(v) * 1024
		lim.FileKB = int64(v)
	}
	runs := 1
	if v, ok := num("number_of_runs", in.NumberOfRuns, 0, true, float64(a.maxRuns())); ok {
		runs = int(v)
	}
	for _, o := range []struct {
		field string
		on    *bool
	}{
		{"enable_per_process_and_thread_time_limit", in.EnablePerProcessAndThreadTimeLimit},
		{"enable_per_process_and_thread_memory_limit", in.EnablePerProcessAndThreadMemoryLimit},
	} {
		if o.on != nil && *o.on {
			errs.Add(o.field, "this option cannot be enabled")
		}
	}
	for _, f := range []struct {
		field string
		v     *string
	}{{"compiler_options", in.CompilerOptions}, {"command_line_arguments", in.CommandLineArguments}} {
		if f.v != nil && utf8.RuneCountInString(*f.v) > maxOptionsLength {
			errs.Add(f.field, "is too long (maximum is %d characters)", maxOptionsLength)
		}
	}
	out.Limits = lim
	if in.EnableNetwork != nil && *in.EnableNetwork {
		errs.Add("enable_network", "enabling network is not allowed")
	}
	if in.RedirectStderrToStdout != nil && *in.RedirectStderrToStdout {
		out.Compat.RedirectStderr = true
		out.MergeStderr = true // one pipe: the order is the program's own
	}
	if in.AdditionalFiles != nil && *in.AdditionalFiles != "" {
		a.addFiles(&out, *in.AdditionalFiles, &errs)
	}
	if runs > 1 {
		// Each run is a test case of its own (the same stdin and expected
		// output): compiled once, the work directory restored between runs.
		tc := job.TestCase{Stdin: out.Stdin, ExpectedOutput: out.ExpectedOutput}
		out.Tests = make([]job.TestCase, runs)
		for i := range out.Tests {
			out.Tests[i] = tc
		}
		out.Stdin, out.ExpectedOutput = "", nil
		out.Compat.Runs = runs
	}
	if in.CallbackURL != nil {
		out.CallbackURL = *in.CallbackURL
	}
	return out, errs
}

// addFiles puts the files of Judge0's additional_files beside the source
// (the source's name wins over an entry of the same name, as unzip -n).
func (a *API) addFiles(out *core.Input, b64 string, errs *core.FieldErrors) {
	cfg := a.svc.Config()
	if int64(len(b64)) > cfg.MaxSourceBytes*4/3+4 {
		errs.Add("additional_files", "is %d bytes, at most %d allowed", len(b64), cfg.MaxSourceBytes*4/3+4)
		return
	}
	sourceFile := ""
	if l, ok := a.svc.Catalog().Lookup(out.Language, ""); ok && out.Language != "" {
		sourceFile = l.SourceFile
	}
	files, err := additionalFiles(b64, []string{sourceFile}, cfg.MaxFiles-1, cfg.MaxSourceBytes)
	if err != nil {
		errs.Add("additional_files", "%v", err)
		return
	}
	out.Compat.AdditionalFiles = b64
	if out.Source != nil {
		out.Files = []job.File{{Content: *out.Source}}
		out.Source = nil
	}
	out.Files = append(out.Files, files...)
}

// maxRuns is the highest number_of_runs: Judge0's, or fewer when the
// gateway allows fewer test cases per submission.
func (a *API) maxRuns() int {
	if a.svc == nil {
		return maxNumberOfRuns
	}
	return min(maxNumberOfRuns, a.svc.Config().MaxTests)
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
	out := &Submission{Token: tokenOf(s.ID), CreatedAt: formatTime(s.CreatedAt)}
	if !s.FinishedAt.IsZero() {
		t := formatTime(s.FinishedAt)
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
	if v := s.Request.Compat.CommandLine; v != "" {
		out.CommandLineArguments = &v
	} else if len(s.Request.Args) > 0 {
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
	// Unset limits show the effective value: the language's default.
	l := s.Request.Limits
	if a.svc == nil {
		// No catalog (unit tests of the rendering): limits as asked.
	} else if lang, ok := a.svc.Catalog().Lookup(s.Request.Language, ""); ok {
		l = effective(l, lang.Limits)
	}
	if c := s.Request.Compat; c.CPUTimeMs > 0 {
		// Limits.CPUTimeMs holds the limit plus the extra time.
		l.CPUTimeMs = c.CPUTimeMs
		out.CPUExtraTime = float64(c.CPUExtraMs) / 1000
	}
	if l.CPUTimeMs > 0 {
		v := float64(l.CPUTimeMs) / 1000
		out.CPUTimeLimit = &v
	}
	out.NumberOfRuns = max(s.Request.Compat.Runs, 1)
	if v := orZero(l.StackKB, l.MemoryKB); v > 0 {
		out.StackLimit = &v
	}
	if l.Processes > 0 {
		v := l.Processes
		out.MaxProcessesAndOrThreads = &v
	}
	if v := orZero(l.FileKB, l.OutputBytes/1024); v > 0 {
		out.MaxFileSize = &v
	}
	out.RedirectStderrToStdout = s.Request.Compat.RedirectStderr
	if v := s.Request.Compat.AdditionalFiles; v != "" {
		out.AdditionalFiles = &v
	}
	if a.svc != nil {
		if name, ok := a.languageName(out.LanguageID); ok {
			out.Language = &Language{ID: out.LanguageID, Name: name}
		}
	}
	queued := out.CreatedAt
	out.QueuedAt = &queued
	if !s.UpdatedAt.IsZero() {
		v := formatTime(s.UpdatedAt)
		out.UpdatedAt = &v
	}
	if res := s.Result; res != nil {
		if !res.StartedAt.IsZero() {
			v := formatTime(res.StartedAt)
			out.StartedAt = &v
		}
		if res.Executor != "" {
			v := res.Executor
			out.ExecutionHost = &v
		}
	}
	if l.WallTimeMs > 0 {
		v := float64(l.WallTimeMs) / 1000
		out.WallTimeLimit = &v
	}
	if l.MemoryKB > 0 {
		v := l.MemoryKB
		out.MemoryLimit = &v
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
		if run, done := judgedRun(s); run != nil {
			if s.Request.Compat.RedirectStderr {
				text(&out.Stdout, combined(run))
			} else {
				output(&out.Stdout, run.Stdout)
				output(&out.Stderr, run.Stderr)
			}
			if s.Status != job.StatusCompilationError {
				code := run.ExitCode
				out.ExitCode = &code
				if n, ok := signalNumbers[run.Signal]; ok {
					out.ExitSignal = &n
				}
				if run.LimitExceeded == "output" {
					// The executor stopped the program at the output cap;
					// Judge0's stdout is a file under max_file_size, where
					// the program gets SIGXFSZ.
					n := signalNumbers["SIGXFSZ"]
					out.ExitSignal = &n
				}
				// Averaged over the runs made, as Judge0 does with
				// number_of_runs (memory as an integer, Judge0's column).
				var cpu, wall float64
				var mem int64
				for _, r := range done {
					cpu, wall, mem = cpu+r.CPUTimeMs, wall+r.WallTimeMs, mem+r.MemoryKB
				}
				n := float64(len(done))
				t := fmt.Sprintf("%.3f", cpu/n/1000)
				wt := fmt.Sprintf("%.3f", wall/n/1000)
				m := int64(float64(mem) / n)
				out.Time, out.WallTime, out.Memory = &t, &wt, &m
			}
		}
	}
	if msg != "" {
		text(&out.Message, []byte(msg))
	}
	return out, err
}

// judgedRun is the run a Judge0 submission is answered with, and the runs
// its time and memory average: with number_of_runs, Judge0 stops at the
// first run that is not accepted and answers that one (else the last);
// otherwise it is the main run.
func judgedRun(s job.Submission) (*job.Step, []job.Step) {
	res := s.Result
	if s.Request.Compat.Runs > 1 && len(res.Tests) > 0 {
		for i := range res.Tests {
			if res.Tests[i].Verdict != job.StatusAccepted {
				return &res.Tests[i], res.Tests[:i+1]
			}
		}
		return &res.Tests[len(res.Tests)-1], res.Tests
	}
	run := core.MainRun(res)
	if run == nil {
		return nil, nil
	}
	return run, []job.Step{*run}
}

// combined is a step's stdout and stderr as one stream, for
// redirect_stderr_to_stdout: in the order the program wrote them when the
// executor recorded it (Step.Output), else stdout then stderr.
func combined(st *job.Step) []byte {
	if st.Output != nil {
		if b, err := st.Output.Bytes(); err == nil {
			return b
		}
	}
	var b []byte
	for _, o := range []job.Output{st.Stdout, st.Stderr} {
		if raw, err := o.Bytes(); err == nil {
			b = append(b, raw...)
		}
	}
	return b
}

func orZero(v, def int64) int64 {
	if v > 0 {
		return v
	}
	return def
}

var signalNumbers = map[string]int{
	"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6, "SIGBUS": 7, "SIGFPE": 8,
	"SIGKILL": 9, "SIGUSR1": 10, "SIGSEGV": 11, "SIGUSR2": 12, "SIGPIPE": 13, "SIGALRM": 14, "SIGTERM": 15,
	"SIGXCPU": 24, "SIGXFSZ": 25, "SIGSYS": 31,
}

// Judge0's bounds that have no execbox configuration.
const (
	// minMemoryLimit is Judge0's least memory_limit, KB.
	minMemoryLimit = 2048
	// maxNumberOfRuns is Judge0's highest number_of_runs (at most the
	// gateway's test cases per submission, see maxRuns).
	maxNumberOfRuns = 20
	// maxCPUExtraTime is Judge0's highest cpu_extra_time, seconds.
	maxCPUExtraTime = 5
	// maxOptionsLength is Judge0's longest compiler_options and
	// command_line_arguments.
	maxOptionsLength = 512
)

// ruby writes a bound as Rails' numericality messages do (2048, 15.0).
func ruby(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// effective fills the unset limits of l with the language's defaults.
func effective(l, def job.Limits) job.Limits {
	pick := func(v, d int64) int64 {
		if v > 0 {
			return v
		}
		return d
	}
	return job.Limits{CPUTimeMs: pick(l.CPUTimeMs, def.CPUTimeMs), WallTimeMs: pick(l.WallTimeMs, def.WallTimeMs),
		MemoryKB: pick(l.MemoryKB, def.MemoryKB), Processes: pick(l.Processes, def.Processes),
		OutputBytes: pick(l.OutputBytes, def.OutputBytes), FileKB: pick(l.FileKB, def.FileKB), StackKB: pick(l.StackKB, def.StackKB)}
}
