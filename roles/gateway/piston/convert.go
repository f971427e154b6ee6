package piston

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway/core"
)

// toInput converts a Piston request to the core's input, and names the
// runtime (language and version) the answer reports.
func (a *API) toInput(in Request) (core.Input, string, string, []httpx.FieldError) {
	var errs core.FieldErrors
	out := core.Input{Stdin: in.Stdin, Args: in.Args, Compat: job.Compat{API: apiName}}
	var lang, ver string
	switch l, ok := a.svc.Catalog().ByPiston(in.Language, in.Version); {
	case in.Language == "":
		errs.Add("language", "is required")
	case in.Version == "":
		errs.Add("version", "is required (use * for any)")
	case !ok:
		errs.Add("language", "%s-%s runtime is unknown", in.Language, in.Version)
	default:
		out.Language = l.ID
		lang, ver = l.Piston.Language, l.Piston.Version
		if lang == "" {
			lang, ver = l.ID, l.Version
		}
	}
	if len(in.Files) == 0 {
		errs.Add("files", "is required")
	}
	for i, f := range in.Files {
		fi := job.File{Name: f.Name, Content: f.Content, Encoding: job.Encoding(f.Encoding)}
		if f.Encoding == "hex" {
			b, err := hex.DecodeString(f.Content)
			if err != nil {
				errs.Add(fmt.Sprintf("files[%d].content", i), "is not valid hex")
			}
			fi.Content, fi.Encoding = base64.StdEncoding.EncodeToString(b), job.EncodingBase64
		}
		if i == 0 {
			// Piston's entry point is the first file, whatever its name.
			fi.Name = ""
		}
		out.Files = append(out.Files, fi)
	}
	lim := &job.Limits{WallTimeMs: in.RunTimeout, CPUTimeMs: in.RunCPUTime}
	if in.RunMemoryLimit > 0 {
		lim.MemoryKB = (in.RunMemoryLimit + 1023) / 1024
	}
	out.Limits = lim
	return out, lang, ver, errs
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
	case s.Status == job.StatusCompilationError:
		// Piston reports a run stage that never ran.
		msg := "compilation failed"
		out.Run = Stage{Message: &msg, Status: ptr("XX")}
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
	out.Output = out.Stdout + out.Stderr
	if st.Signal != "" {
		out.Signal = ptr(st.Signal)
	} else {
		out.Code = ptr(st.ExitCode)
	}
	if st.Message != "" {
		out.Message = ptr(st.Message)
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
