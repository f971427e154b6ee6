package piston

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway/core"
)

// toInput converts a parsed Piston request to the core's input, and names
// the runtime (language and version) the answer reports. It answers
// Piston's message for the first invalid field, "" when none is.
func (a *API) toInput(in Request) (core.Input, string, string, string) {
	// Piston adds a trailing newline to stdin when it has none (also to
	// an empty one), so a program reading a line always gets one.
	stdin := in.Stdin
	if !strings.HasSuffix(stdin, "\n") {
		stdin += "\n"
	}
	out := core.Input{Stdin: stdin, Args: in.Args, Compat: job.Compat{API: apiName}, KeepNames: true}
	l, ok := findRuntime(a.svc.Catalog(), in.Language, in.Version)
	if !ok {
		return out, "", "", fmt.Sprintf("%s-%s runtime is unknown", in.Language, in.Version)
	}
	out.Language = l.ID
	lang, ver := l.Piston.Language, l.Piston.Version
	if lang == "" {
		lang, ver = l.ID, l.Version
	}
	utf8 := false
	entry := -1
	for i, f := range in.Files {
		fi := job.File{Name: f.Name, Content: f.Content, Encoding: job.Encoding(f.Encoding)}
		if fi.Name == "" && i > 0 {
			// Piston's name for a file sent without one (the entry
			// point's is the language's source file name).
			fi.Name = fmt.Sprintf("file%d.code", i)
		}
		switch f.Encoding {
		case "", "utf8":
			utf8 = true
			fi.Encoding = ""
			if entry < 0 {
				entry = i
			}
		case "hex":
			b, err := hex.DecodeString(f.Content)
			if err != nil {
				return out, lang, ver, fmt.Sprintf("files[%d].content is not valid hex", i)
			}
			fi.Content, fi.Encoding = base64.StdEncoding.EncodeToString(b), job.EncodingBase64
		}
		out.Files = append(out.Files, fi)
	}
	switch {
	case lang == "file":
		// Piston's "file" runtime runs a file of any encoding (a binary):
		// the first file is the entry point.
		entry = 0
	case !utf8:
		return out, lang, ver, "files must include at least one utf8 encoded file"
	}
	// Piston's entry point is the first utf8 file (base64 and hex files are
	// data), under the name it was sent with: it goes first, and a first
	// file without a name takes the language's source file name.
	if entry > 0 {
		e := out.Files[entry]
		copy(out.Files[1:entry+1], out.Files[:entry])
		out.Files[0] = e
	}
	max := a.svc.Config().MaxLimits
	run, compile := &job.Limits{}, &job.Limits{}
	for _, c := range []struct {
		name      string
		val       int64
		max       int64
		dst       *int64
		kb, minus bool
	}{
		{"compile_memory_limit", in.CompileMemoryLimit, max.MemoryKB * 1024, &compile.MemoryKB, true, true},
		{"run_memory_limit", in.RunMemoryLimit, max.MemoryKB * 1024, &run.MemoryKB, true, true},
		{"compile_timeout", in.CompileTimeout, max.WallTimeMs, &compile.WallTimeMs, false, false},
		{"run_timeout", in.RunTimeout, max.WallTimeMs, &run.WallTimeMs, false, false},
		{"compile_cpu_time", in.CompileCPUTime, max.CPUTimeMs, &compile.CPUTimeMs, false, false},
		{"run_cpu_time", in.RunCPUTime, max.CPUTimeMs, &run.CPUTimeMs, false, false},
	} {
		switch {
		case c.val == 0, c.val == -1 && c.minus:
			// 0 keeps the default as in Piston; -1 is Piston's "no memory
			// limit", which here is the language's default.
		case c.val > c.max:
			return out, lang, ver, fmt.Sprintf("%s cannot exceed the configured limit of %d", c.name, c.max)
		case c.val < 0:
			return out, lang, ver, fmt.Sprintf("%s must be non-negative", c.name)
		case c.kb:
			*c.dst = (c.val + 1023) / 1024
		default:
			*c.dst = c.val
		}
	}
	out.Limits, out.CompileLimits = run, compile
	return out, lang, ver, ""
}

// toResponse renders a final submission in Piston's shape.
func toResponse(s job.Submission, lang, ver string) Response {
	out := Response{Language: lang, Version: ver}
	res := s.Result
	if res == nil {
		res = &job.Result{Status: s.Status}
	}
	if res.Compile != nil {
		st := toStage(*res.Compile)
		out.Compile = &st
	}
	switch run := core.MainRun(res); {
	case run != nil:
		out.Run = toStage(*run)
	case out.Compile != nil:
		// Piston answers a run that never started (the compile failed or
		// timed out) with the compile stage.
		out.Run = *out.Compile
	default:
		msg := res.Message
		if msg == "" {
			msg = string(s.Status)
		}
		out.Run = Stage{Message: &msg, Status: ptr("XX")}
	}
	return out
}

func toStage(st job.Step) Stage {
	text := func(o job.Output) string {
		b, err := o.Bytes()
		if err != nil {
			return ""
		}
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	out := Stage{Stdout: text(st.Stdout), Stderr: text(st.Stderr),
		CPUTime: st.CPUTimeMs, WallTime: st.WallTimeMs, Memory: st.MemoryKB * 1024}
	// Piston's output is both streams in the order the program wrote
	// them: the executor's combined stream, or (results from before it
	// recorded one) stdout then stderr.
	out.Output = out.Stdout + out.Stderr
	if st.Output != nil {
		out.Output = text(*st.Output)
	}
	if st.Signal != "" {
		out.Signal = ptr(st.Signal)
	} else {
		out.Code = ptr(st.ExitCode)
	}
	if st.Message != "" {
		out.Message = ptr(st.Message)
	}
	switch {
	case st.LimitExceeded == "cpu" || st.LimitExceeded == "wall":
		// A compile step that ran out of time is a compilation error with
		// the limit named; Piston reports any stage that timed out as TO.
		out.Status = ptr("TO")
		return out
	}
	switch st.Verdict {
	case job.StatusTimeLimit:
		out.Status = ptr("TO")
	case job.StatusOutputLimit:
		out.Status = ptr("OL")
		if st.Stderr.Truncated && !st.Stdout.Truncated {
			out.Status = ptr("EL")
		}
	case job.StatusMemoryLimit:
		out.Status = ptr("SG")
		if out.Message == nil {
			out.Message = ptr("Memory limit exceeded")
		}
	case job.StatusRuntimeError, job.StatusCompilationError:
		if st.Signal != "" {
			out.Status = ptr("SG")
		} else if st.ExitCode != 0 {
			out.Status = ptr("RE")
		}
	case job.StatusInternalError:
		out.Status = ptr("XX")
	}
	return out
}

func ptr[T any](v T) *T { return &v }
