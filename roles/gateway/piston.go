package gateway

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
)

// Piston v2 compatibility: POST /api/v2/execute and GET /api/v2/runtimes.
// Piston runs synchronously, so execute waits (up to the configured
// maximum; past it the submission is canceled and the answer is 504).
// compile_timeout, compile_cpu_time and compile_memory_limit are accepted
// and ignored: compile limits come from the language catalog. Piston's
// "output" interleaves stdout and stderr; execbox captures them apart, so
// output is stdout followed by stderr.

// PistonFile is one file of a Piston request.
type PistonFile struct {
	Name     string `json:"name,omitempty"`
	Content  string `json:"content" validate:"required"`
	Encoding string `json:"encoding,omitempty" enum:"utf8,base64,hex"`
}

// PistonRequest is the body of POST /api/v2/execute.
type PistonRequest struct {
	Language           string       `json:"language" validate:"required"`
	Version            string       `json:"version" validate:"required" doc:"Version or * for any."`
	Files              []PistonFile `json:"files" validate:"required" doc:"The first file is the entry point."`
	Stdin              string       `json:"stdin,omitempty"`
	Args               []string     `json:"args,omitempty"`
	CompileTimeout     int64        `json:"compile_timeout,omitempty" doc:"Ignored."`
	RunTimeout         int64        `json:"run_timeout,omitempty" doc:"Wall time limit, ms."`
	CompileCPUTime     int64        `json:"compile_cpu_time,omitempty" doc:"Ignored."`
	RunCPUTime         int64        `json:"run_cpu_time,omitempty" doc:"CPU time limit, ms."`
	CompileMemoryLimit int64        `json:"compile_memory_limit,omitempty" doc:"Ignored."`
	RunMemoryLimit     int64        `json:"run_memory_limit,omitempty" doc:"Bytes; -1 for the default."`
}

// PistonStage is the outcome of the compile or run stage.
type PistonStage struct {
	Stdout   string  `json:"stdout"`
	Stderr   string  `json:"stderr"`
	Output   string  `json:"output"`
	Code     *int    `json:"code"`
	Signal   *string `json:"signal"`
	Message  *string `json:"message"`
	Status   *string `json:"status" doc:"RE, SG, TO, OL, EL or XX; null when the stage succeeded."`
	CPUTime  float64 `json:"cpu_time" doc:"ms"`
	WallTime float64 `json:"wall_time" doc:"ms"`
	Memory   int64   `json:"memory" doc:"bytes"`
}

// PistonResponse answers POST /api/v2/execute.
type PistonResponse struct {
	Language string       `json:"language"`
	Version  string       `json:"version"`
	Run      PistonStage  `json:"run"`
	Compile  *PistonStage `json:"compile,omitempty"`
}

// PistonRuntime is an entry of GET /api/v2/runtimes.
type PistonRuntime struct {
	Language string   `json:"language"`
	Version  string   `json:"version"`
	Aliases  []string `json:"aliases"`
	Runtime  string   `json:"runtime,omitempty"`
}

func (r *Role) pistonRoutes() []route {
	return []route{
		{method: "POST", path: "/api/v2/execute", tag: "piston", summary: "Run code (Piston v2)",
			request: PistonRequest{}, responses: map[int]any{200: PistonResponse{}}, handle: r.pistonExecute},
		{method: "GET", path: "/api/v2/runtimes", tag: "piston", summary: "List runtimes (Piston v2)",
			responses: map[int]any{200: []PistonRuntime{}}, handle: r.pistonRuntimes},
	}
}

func (r *Role) pistonRuntimes(w http.ResponseWriter, _ *http.Request) {
	var out []PistonRuntime
	for _, l := range r.catalog.All() {
		if l.Piston.Language == "" {
			continue
		}
		aliases := l.Piston.Aliases
		if aliases == nil {
			aliases = []string{}
		}
		out = append(out, PistonRuntime{Language: l.Piston.Language, Version: l.Piston.Version, Aliases: aliases})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// fromPiston converts a Piston request to a native one.
func (r *Role) fromPiston(in PistonRequest) (SubmissionRequest, string, string, []httpx.FieldError) {
	var errs fieldErrors
	out := SubmissionRequest{Stdin: in.Stdin, Args: in.Args}
	var lang, ver string
	switch l, ok := r.catalog.ByPiston(in.Language, in.Version); {
	case in.Language == "":
		errs.add("language", "is required")
	case in.Version == "":
		errs.add("version", "is required (use * for any)")
	case !ok:
		errs.add("language", "%s-%s runtime is unknown", in.Language, in.Version)
	default:
		out.Language = l.ID
		lang, ver = l.Piston.Language, l.Piston.Version
		if lang == "" {
			lang, ver = l.ID, l.Version
		}
	}
	if len(in.Files) == 0 {
		errs.add("files", "is required")
	}
	for i, f := range in.Files {
		fi := FileInput{Name: f.Name, Content: f.Content, Encoding: f.Encoding}
		if f.Encoding == "hex" {
			b, err := hex.DecodeString(f.Content)
			if err != nil {
				errs.add(fmt.Sprintf("files[%d].content", i), "is not valid hex")
			}
			fi.Content, fi.Encoding = base64.StdEncoding.EncodeToString(b), string(job.EncodingBase64)
		}
		if i == 0 {
			// Piston's entry point is the first file, whatever its name.
			fi.Name = ""
		}
		out.Files = append(out.Files, fi)
	}
	lim := &LimitsInput{WallTimeMs: in.RunTimeout, CPUTimeMs: in.RunCPUTime}
	if in.RunMemoryLimit > 0 {
		lim.MemoryKB = (in.RunMemoryLimit + 1023) / 1024
	}
	out.Limits = lim
	return out, lang, ver, errs
}

func (r *Role) pistonExecute(w http.ResponseWriter, req *http.Request) {
	if !r.allow(w, req, apiPiston, 1) {
		return
	}
	var in PistonRequest
	if !r.decodeLenient(w, req, &in, apiPiston) {
		return
	}
	native, lang, ver, errs := r.fromPiston(in)
	c := callerFrom(req.Context())
	if len(errs) == 0 {
		jr, verrs := r.toJobRequest(req.Context(), native, c, "")
		if len(verrs) > 0 {
			errs = append(errs, verrs...)
		} else {
			r.pistonRun(w, req, c, jr, lang, ver)
			return
		}
	}
	r.metrics.rejected.WithLabelValues("invalid_request").Inc()
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Field + ": " + e.Message
		if e.Field == "language" {
			msgs[i] = e.Message
		}
	}
	httpx.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": strings.Join(msgs, "; ")})
}

func (r *Role) pistonRun(w http.ResponseWriter, req *http.Request, c caller, jr job.Request, lang, ver string) {
	sub, err := r.enqueue(req.Context(), c, jr, callbackFormat{api: apiPiston})
	if err != nil {
		r.writeError(w, req, err, apiPiston)
		return
	}
	final, done, err := r.wait(req.Context(), c, sub.ID)
	if err != nil {
		r.writeError(w, req, err, apiPiston)
		return
	}
	if !done {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), 5*time.Second)
		defer cancel()
		_, _ = r.queue.Cancel(ctx, sub.ID)
		r.inflight.done(c.limitKey, sub.ID)
		httpx.WriteJSON(w, http.StatusGatewayTimeout, map[string]string{
			"message": fmt.Sprintf("execution did not finish within %s and was canceled", r.cfg.MaxWait)})
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toPiston(final, lang, ver))
}

// toPiston renders a final submission in Piston's shape.
func toPiston(s job.Submission, lang, ver string) PistonResponse {
	out := PistonResponse{Language: lang, Version: ver}
	res := s.Result
	if res == nil {
		res = &job.Result{Status: s.Status}
	}
	if res.Compile != nil {
		st := pistonStage(*res.Compile)
		out.Compile = &st
	}
	switch run := mainRun(res); {
	case run != nil:
		out.Run = pistonStage(*run)
	case s.Status == job.StatusCompilationError:
		// Piston reports a run stage that never ran.
		msg := "compilation failed"
		out.Run = PistonStage{Message: &msg, Status: ptr("XX")}
	default:
		msg := orDefault(res.Message, string(s.Status))
		out.Run = PistonStage{Message: &msg, Status: ptr("XX")}
	}
	return out
}

func pistonStage(st job.Step) PistonStage {
	text := func(o job.Output) string {
		b, err := o.Bytes()
		if err != nil {
			return ""
		}
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	out := PistonStage{Stdout: text(st.Stdout), Stderr: text(st.Stderr),
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
