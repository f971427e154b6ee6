// Package judge0 is the gateway's Judge0 CE compatible API: the routes,
// request fields and response shapes of Judge0 1.13, so that a Judge0 client
// works by changing its base URL. It depends on the gateway core and the
// pkg/ wire types only.
//
// Verdict mapping (Judge0 has no memory or output limit status):
//   - memory_limit_exceeded -> 12 "Runtime Error (Other)", message "Memory limit exceeded"
//   - output_limit_exceeded -> 8 "Runtime Error (SIGXFSZ)" (what Judge0's isolate reports when
//     output exceeds max_file_size), message "Output limit exceeded"
//   - canceled -> 13 "Internal Error", message "Canceled"
//   - runtime_error: SIGSEGV 7, SIGXFSZ 8, SIGFPE 9, SIGABRT 10, exit code without signal 11 (NZEC),
//     other signals 12; "exec format error" in the message 14.
//
// DELETE /submissions/{token} cancels an unfinished submission and answers
// it, base64-encoded as Judge0 forces; a finished one is answered unchanged
// (execbox keeps results for history; retention is the storage role's).
//
// Judge0's configuration variables are honoured: stack_limit and
// max_file_size are the program's RLIMIT_STACK and RLIMIT_FSIZE,
// cpu_extra_time lets a program run past its CPU limit and still answers a
// time limit exceeded, number_of_runs runs it N times (Request.Tests holds
// a copy per run) and averages time and memory, redirect_stderr_to_stdout
// answers the combined stream, additional_files are unpacked beside the
// source (zip.go). What Judge0 itself stores for these is kept in
// job.Compat.
//
// Tokens are the submission ids in UUID version 4 form (job.V4Form), which
// Judge0 clients expect; the core takes either form. Timestamps have
// millisecond precision, as Judge0's. Every number of a request is checked
// with Judge0's model's bounds and Rails messages (422 per field); unset
// limits are answered with their effective value (the language's default).
//
// What Judge0 clients ask back about a submission (the language id they
// gave, base64_encoded for the callback) is kept in the request's
// job.Compat, not in the client's metadata.
package judge0

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway/core"
)

// judge0Version is the Judge0 release whose API this one follows.
const judge0Version = "1.13.1"

var statuses = []Status{
	{1, "In Queue"}, {2, "Processing"}, {3, "Accepted"}, {4, "Wrong Answer"}, {5, "Time Limit Exceeded"},
	{6, "Compilation Error"}, {7, "Runtime Error (SIGSEGV)"}, {8, "Runtime Error (SIGXFSZ)"},
	{9, "Runtime Error (SIGFPE)"}, {10, "Runtime Error (SIGABRT)"}, {11, "Runtime Error (NZEC)"},
	{12, "Runtime Error (Other)"}, {13, "Internal Error"}, {14, "Exec Format Error"},
}

// Status is a Judge0 status: id 1 to 14.
type Status struct {
	ID          int    `json:"id"`
	Description string `json:"description"`
}

// Request is a Judge0 submission. Unknown fields are ignored, as Judge0
// does; enable_network and the per-process limits are refused when true (as
// a Judge0 that does not allow them).
type Request struct {
	SourceCode                           *string  `json:"source_code" validate:"required"`
	LanguageID                           flexInt  `json:"language_id" validate:"required"`
	CompilerOptions                      *string  `json:"compiler_options,omitempty"`
	CommandLineArguments                 *string  `json:"command_line_arguments,omitempty"`
	Stdin                                *string  `json:"stdin,omitempty"`
	ExpectedOutput                       *string  `json:"expected_output,omitempty"`
	CPUTimeLimit                         *float64 `json:"cpu_time_limit,omitempty" doc:"Seconds."`
	CPUExtraTime                         *float64 `json:"cpu_extra_time,omitempty" doc:"Seconds, at most max_cpu_extra_time: the program is killed after cpu_time_limit plus this, and a run over cpu_time_limit is status 5 with its real time."`
	WallTimeLimit                        *float64 `json:"wall_time_limit,omitempty" doc:"Seconds."`
	MemoryLimit                          *float64 `json:"memory_limit,omitempty" doc:"KB."`
	StackLimit                           *float64 `json:"stack_limit,omitempty" doc:"KB, at most max_stack_limit: RLIMIT_STACK (default: the memory limit)."`
	MaxProcessesAndOrThreads             *float64 `json:"max_processes_and_or_threads,omitempty"`
	EnablePerProcessAndThreadTimeLimit   *bool    `json:"enable_per_process_and_thread_time_limit,omitempty" doc:"Must be false: limits hold for all processes together."`
	EnablePerProcessAndThreadMemoryLimit *bool    `json:"enable_per_process_and_thread_memory_limit,omitempty" doc:"Must be false: limits hold for all processes together."`
	MaxFileSize                          *float64 `json:"max_file_size,omitempty" doc:"KB: every file the program writes (RLIMIT_FSIZE) and its stdout and stderr."`
	RedirectStderrToStdout               *bool    `json:"redirect_stderr_to_stdout,omitempty" doc:"stderr is answered within stdout."`
	EnableNetwork                        *bool    `json:"enable_network,omitempty" doc:"Must be false: sandboxes have no network."`
	NumberOfRuns                         *float64 `json:"number_of_runs,omitempty" doc:"At most max_number_of_runs: the program runs this many times, time and memory are averaged."`
	AdditionalFiles                      *string  `json:"additional_files,omitempty" doc:"Base64 zip of files put beside the source (top level only, no links)."`
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
		return &json.UnmarshalTypeError{Value: "string " + string(b), Type: reflect.TypeOf(0), Field: "language_id"}
	}
	*n = flexInt(v)
	return nil
}

// Token answers a created submission.
type Token struct {
	Token string `json:"token" validate:"required"`
}

// BatchRequest is the body of POST /submissions/batch.
type BatchRequest struct {
	Submissions []Request `json:"submissions" validate:"required"`
}

// BatchResponse answers GET /submissions/batch.
type BatchResponse struct {
	Submissions []*Submission `json:"submissions" validate:"required"`
}

// Submission is a submission in Judge0's shape; the fields query
// parameter selects which of these are sent.
type Submission struct {
	SourceCode           *string  `json:"source_code"`
	LanguageID           int      `json:"language_id"`
	Stdin                *string  `json:"stdin"`
	ExpectedOutput       *string  `json:"expected_output"`
	Stdout               *string  `json:"stdout"`
	Stderr               *string  `json:"stderr"`
	CompileOutput        *string  `json:"compile_output"`
	Message              *string  `json:"message"`
	ExitCode             *int     `json:"exit_code"`
	ExitSignal           *int     `json:"exit_signal"`
	Status               Status   `json:"status"`
	StatusID             int      `json:"status_id"`
	CreatedAt            string   `json:"created_at" doc:"UTC, millisecond precision, as Judge0."`
	FinishedAt           *string  `json:"finished_at"`
	Token                string   `json:"token"`
	Time                 *string  `json:"time" doc:"CPU time in seconds."`
	WallTime             *string  `json:"wall_time" doc:"Wall time in seconds."`
	Memory               *int64   `json:"memory" doc:"Peak memory in KB."`
	CPUTimeLimit         *float64 `json:"cpu_time_limit"`
	WallTimeLimit        *float64 `json:"wall_time_limit"`
	MemoryLimit          *int64   `json:"memory_limit"`
	CompilerOptions      *string  `json:"compiler_options"`
	CommandLineArguments *string  `json:"command_line_arguments"`
	CallbackURL          *string  `json:"callback_url"`
	// The rest of Judge0's attributes, answered for fields=* or by name.
	NumberOfRuns                         int       `json:"number_of_runs"`
	CPUExtraTime                         float64   `json:"cpu_extra_time" doc:"Seconds."`
	StackLimit                           *int64    `json:"stack_limit" doc:"KB."`
	MaxProcessesAndOrThreads             *int64    `json:"max_processes_and_or_threads"`
	EnablePerProcessAndThreadTimeLimit   bool      `json:"enable_per_process_and_thread_time_limit"`
	EnablePerProcessAndThreadMemoryLimit bool      `json:"enable_per_process_and_thread_memory_limit"`
	MaxFileSize                          *int64    `json:"max_file_size" doc:"KB."`
	RedirectStderrToStdout               bool      `json:"redirect_stderr_to_stdout"`
	EnableNetwork                        bool      `json:"enable_network"`
	AdditionalFiles                      *string   `json:"additional_files" doc:"The zip as sent, base64."`
	Language                             *Language `json:"language"`
	QueuedAt                             *string   `json:"queued_at"`
	StartedAt                            *string   `json:"started_at"`
	UpdatedAt                            *string   `json:"updated_at"`
	QueueHost                            *string   `json:"queue_host" doc:"Always null: the queue is shared."`
	ExecutionHost                        *string   `json:"execution_host" doc:"The executor that ran it."`
}

// Language is an entry of GET /languages; LanguageDetail of
// GET /languages/{id}.
type Language struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// LanguageEntry is an entry of GET /languages/all.
type LanguageEntry struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	IsArchived bool   `json:"is_archived"`
}

type LanguageDetail struct {
	ID         int     `json:"id"`
	Name       string  `json:"name"`
	IsArchived bool    `json:"is_archived"`
	SourceFile string  `json:"source_file"`
	CompileCmd *string `json:"compile_cmd"`
	RunCmd     string  `json:"run_cmd"`
}

// About answers GET /about.
type About struct {
	Version    string `json:"version"`
	Homepage   string `json:"homepage"`
	SourceCode string `json:"source_code"`
	Maintainer string `json:"maintainer"`
}

// defaultFields are the fields answered when the client names none.
var defaultFields = []string{"token", "stdout", "stderr", "compile_output", "message", "status", "time", "memory"}

// fieldNames are the fields a client may name (every field of Submission).
var fieldNames = func() map[string]bool {
	m := map[string]bool{}
	for _, name := range core.JSONNames(reflect.TypeOf(Submission{})) {
		m[name] = true
	}
	return m
}()

// errNotUTF8 is Judge0's answer when an output needs base64;
// errNotUTF8Batch its answer for a batch.
const (
	errNotUTF8      = "some attributes for this submission cannot be converted to UTF-8, use base64_encoded=true query parameter"
	errNotUTF8Batch = "some attributes for one or more submissions cannot be converted to UTF-8, use base64_encoded=true query parameter"
)

// timeLayout is how Judge0 (Rails) writes timestamps: UTC, milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// tokenOf is the Judge0 token of a submission id: job.V4Form, since Judge0
// clients type a token as a UUID version 4 (the Python SDK does). The
// gateway core accepts that form wherever it takes an id, so a token is
// also usable as the native id.
func tokenOf(id string) string { return job.V4Form(id) }

// idOf is the submission id a Judge0 token names.
func idOf(token string) string { return job.CanonicalID(token) }
