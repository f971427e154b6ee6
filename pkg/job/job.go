// Package job holds the wire types every role shares: what a client submits
// (Request), how it travels (Job, Submission) and what comes back (Result).
package job

import (
	"time"
)

// Encoding says how a File's content or an Output's text is encoded on the wire.
type Encoding string

const (
	EncodingUTF8   Encoding = "utf8"
	EncodingBase64 Encoding = "base64"
)

// File is one source file of a submission.
type File struct {
	Name     string   `json:"name"`
	Content  string   `json:"content"`
	Encoding Encoding `json:"encoding,omitempty"`
}

// TestCase is one run of the program: its stdin and, optionally, the output
// it must print. Output comparison ignores trailing whitespace on each line and
// trailing empty lines.
type TestCase struct {
	Stdin          string  `json:"stdin,omitempty" doc:"Standard input of this run."`
	ExpectedOutput *string `json:"expected_output,omitempty" doc:"Expected stdout; trailing whitespace on each line and trailing empty lines are ignored."`
}

// Limits bound one run step. Zero means "use the language's default". The
// doc tags are the field descriptions of the gateway's OpenAPI document.
type Limits struct {
	CPUTimeMs   int64 `json:"cpu_time_ms,omitempty" doc:"CPU time limit in milliseconds."`
	WallTimeMs  int64 `json:"wall_time_ms,omitempty" doc:"Wall-clock time limit in milliseconds."`
	MemoryKB    int64 `json:"memory_kb,omitempty" doc:"Memory limit in KiB."`
	Processes   int64 `json:"processes,omitempty" doc:"Maximum number of processes and threads."`
	OutputBytes int64 `json:"output_bytes,omitempty" doc:"Maximum bytes captured per output stream."`
	FileKB      int64 `json:"file_kb,omitempty" doc:"Largest file the program may create or extend, in KiB (RLIMIT_FSIZE; default and maximum: the work directory's size). A program writing past it gets SIGXFSZ (or EFBIG where it ignores the signal)."`
	StackKB     int64 `json:"stack_kb,omitempty" doc:"Stack size limit in KiB (RLIMIT_STACK; default and maximum: the memory limit)."`
}

// Priority orders jobs in the queue.
type Priority string

const (
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
	PriorityLow    Priority = "low"
)

// Priorities lists the priorities from highest to lowest.
var Priorities = [...]Priority{PriorityHigh, PriorityNormal, PriorityLow}

// Valid reports whether p is a known priority (the empty value counts as normal).
func (p Priority) Valid() bool {
	switch p {
	case "", PriorityHigh, PriorityNormal, PriorityLow:
		return true
	}
	return false
}

// Request is what a client asks execbox to run. It is validated by the
// gateway; every other role may assume it is well formed.
type Request struct {
	Language    string     `json:"language"`
	Version     string     `json:"version,omitempty"`
	Files       []File     `json:"files"`
	Stdin       string     `json:"stdin,omitempty"`
	Args        []string   `json:"args,omitempty"`
	CompileArgs []string   `json:"compile_args,omitempty"`
	Tests       []TestCase `json:"tests,omitempty"`
	Limits      Limits     `json:"limits"`
	// CompileLimits override the language's compile-step limits (each
	// field that is set); the run step's limits never apply to compiling.
	CompileLimits Limits `json:"compile_limits,omitzero"`
	CallbackURL   string `json:"callback_url,omitempty"`
	// MergeStderr gives the program one pipe for stdout and stderr: Stdout
	// holds both in exactly the order written, Stderr is empty (Judge0's
	// redirect_stderr_to_stdout; a shell's 2>&1).
	MergeStderr bool              `json:"merge_stderr,omitempty"`
	Priority    Priority          `json:"priority,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	// Set by the gateway, never by the client.
	APIKeyID       string `json:"api_key_id,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Compat is set by the gateway for requests that came through a
	// compatibility API; it travels and is stored with the request.
	Compat Compat `json:"compat,omitzero"`
	// Interactive is set by the gateway for a live session (WebSocket):
	// the program's stdin and signals arrive while it runs, through the
	// submission's live input stream (pkg/live), instead of Stdin and
	// Tests.
	Interactive *Interactive `json:"interactive,omitempty"`
}

// Interactive is what a live session adds to a request.
type Interactive struct {
	// IdleTimeoutMs ends the session (time_limit_exceeded, "idle") after
	// that long without input and without output; its whole length is the
	// run's wall time limit.
	IdleTimeoutMs int64 `json:"idle_timeout_ms"`
}

// Compat is what the gateway keeps with a request that came through a
// compatibility API (Judge0, Piston), to answer for it later in that API's
// shape. It is not client data: the native API does not show it.
type Compat struct {
	// API names the public API the request came through ("judge0",
	// "piston"); empty for the native API.
	API string `json:"api,omitempty"`
	// LanguageID is the language id the client gave in its API's numbering
	// (Judge0's language_id), answered back as given.
	LanguageID int `json:"language_id,omitempty"`
	// Base64 records that the client sent its texts base64-encoded
	// (Judge0's base64_encoded); its callback is encoded the same way.
	Base64 bool `json:"base64,omitempty"`
	// CommandLine is Judge0's command_line_arguments as the client sent
	// it (Args holds it split), answered back unchanged.
	CommandLine string `json:"command_line,omitempty"`
	// Runs is Judge0's number_of_runs when above 1: Tests holds one copy
	// of the test case per run, and time and memory are answered averaged.
	Runs int `json:"runs,omitempty"`
	// CPUTimeMs and CPUExtraMs are Judge0's cpu_time_limit and
	// cpu_extra_time when an extra time was asked: Limits.CPUTimeMs is
	// their sum (the program is killed only then), and a run that used
	// more than CPUTimeMs is answered as a time limit exceeded.
	CPUTimeMs  int64 `json:"cpu_time_ms,omitempty"`
	CPUExtraMs int64 `json:"cpu_extra_ms,omitempty"`
	// RedirectStderr is Judge0's redirect_stderr_to_stdout: stderr is
	// answered within stdout.
	RedirectStderr bool `json:"redirect_stderr,omitempty"`
	// AdditionalFiles is Judge0's additional_files as sent (a base64 zip,
	// answered back unchanged); its files are in Files.
	AdditionalFiles string `json:"additional_files,omitempty"`
}

// Job is one unit of work handed to an executor.
type Job struct {
	ID      string  `json:"id"`
	Request Request `json:"request"`
	// Attempt counts deliveries, starting at 1.
	Attempt int `json:"attempt"`
}

// Status is the state of a submission: two transient states, then a final
// verdict.
type Status string

const (
	StatusQueued   Status = "queued"
	StatusRunning  Status = "running"
	StatusAccepted Status = "accepted"
	// Verdicts (final).
	StatusWrongAnswer      Status = "wrong_answer"
	StatusTimeLimit        Status = "time_limit_exceeded"
	StatusMemoryLimit      Status = "memory_limit_exceeded"
	StatusOutputLimit      Status = "output_limit_exceeded"
	StatusCompilationError Status = "compilation_error"
	StatusRuntimeError     Status = "runtime_error"
	StatusInternalError    Status = "internal_error"
	StatusCanceled         Status = "canceled"
)

// Final reports whether s is a verdict: the submission will not change again.
func (s Status) Final() bool {
	return s != StatusQueued && s != StatusRunning && s != ""
}

// AllStatuses lists every status in a stable order.
var AllStatuses = [...]Status{
	StatusQueued, StatusRunning, StatusAccepted, StatusWrongAnswer, StatusTimeLimit,
	StatusMemoryLimit, StatusOutputLimit, StatusCompilationError, StatusRuntimeError,
	StatusInternalError, StatusCanceled,
}

// Output is one captured stream. Text is UTF-8 unless Encoding is base64
// (the bytes were not valid UTF-8 or contained NUL).
type Output struct {
	Text      string   `json:"text"`
	Encoding  Encoding `json:"encoding,omitempty"`
	Truncated bool     `json:"truncated,omitempty"`
}

// Step is the measured outcome of one process run: the compile step or one
// run of the program.
type Step struct {
	Verdict Status `json:"verdict"`
	Stdout  Output `json:"stdout"`
	Stderr  Output `json:"stderr"`
	// Output is stdout and stderr combined in the order the program wrote
	// them (as the agent read them), with the same bytes the two streams
	// captured; Truncated when either stream was. Nil in results stored
	// before it existed.
	Output   *Output `json:"output,omitempty"`
	ExitCode int     `json:"exit_code"`
	// Signal is the name of the signal that ended the process ("SIGSEGV"), if any.
	Signal string `json:"signal,omitempty"`
	// LimitExceeded names which limit ended the step for time_limit_exceeded
	// ("cpu" or "wall"), memory_limit_exceeded ("memory") and
	// output_limit_exceeded ("output" for a captured stream, "file" for a
	// file past Limits.FileKB: SIGXFSZ).
	LimitExceeded string  `json:"limit_exceeded,omitempty"`
	CPUTimeMs     float64 `json:"cpu_time_ms"`
	WallTimeMs    float64 `json:"wall_time_ms"`
	MemoryKB      int64   `json:"memory_kb"`
	Message       string  `json:"message,omitempty"`
}

// Result is everything execbox reports about a finished submission.
type Result struct {
	Status  Status `json:"status"`
	Message string `json:"message,omitempty"`
	Compile *Step  `json:"compile,omitempty"`
	// Run is the first (or only) run; Tests has every run when tests were given.
	Run        *Step     `json:"run,omitempty"`
	Tests      []Step    `json:"tests,omitempty"`
	Language   string    `json:"language,omitempty"`
	Version    string    `json:"version,omitempty"`
	Executor   string    `json:"executor,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Submission is a job as the outside sees it: its request, its current
// status and, once final, its result.
type Submission struct {
	ID       string  `json:"id"`
	Status   Status  `json:"status"`
	Request  Request `json:"request"`
	Result   *Result `json:"result,omitempty"`
	Attempts int     `json:"attempts,omitempty"`
	// History lists the deliveries that did not end the submission (an
	// executor that could not run it, a failure on a working executor, a
	// lease that expired), oldest first; the queue keeps the last
	// MaxHistory of them.
	History []Attempt `json:"history,omitempty"`
	// Callback is the delivery state of the callback_url, once a final
	// status started it (kept by the queue while it holds the submission).
	Callback   *CallbackState `json:"callback,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at,omitzero"`
	FinishedAt time.Time      `json:"finished_at,omitzero"`
	// Replayed is set only on the answer of an Enqueue whose idempotency
	// key was seen before: the submission is the earlier one.
	Replayed bool `json:"replayed,omitempty"`
}

// Callback delivery states.
const (
	CallbackPending   = "pending"
	CallbackDelivered = "delivered"
	// CallbackFailed is the callback's dead-letter state: every attempt
	// failed, or the receiver refused it for good (4xx, a refused address).
	CallbackFailed = "failed"
)

// CallbackState is how the delivery of a submission's callback went.
type CallbackState struct {
	Status        string    `json:"status" doc:"pending, delivered or failed."`
	Attempts      int       `json:"attempts" doc:"Delivery attempts so far."`
	LastError     string    `json:"last_error,omitempty" doc:"Why the last attempt failed."`
	LastAttemptAt time.Time `json:"last_attempt_at,omitzero"`
}

// Outcomes of an Attempt.
const (
	// OutcomeUnavailable: no executor could run the job (unreachable,
	// answering 5xx, its sandbox could not start). The platform's failure:
	// it does not count against the job.
	OutcomeUnavailable = "executor_unavailable"
	// OutcomeFailed: a working executor ran the job and reported
	// internal_error. Counted: a job fails for good after a bounded number.
	OutcomeFailed = "failed"
	// OutcomeLeaseExpired: the worker holding the job stopped heartbeating
	// (it died); counted by the queue's MaxDeliveries.
	OutcomeLeaseExpired = "lease_expired"
	// OutcomeDeadline: the job kept failing past the worker's retry
	// deadline and was dead-lettered.
	OutcomeDeadline = "deadline"
)

// MaxHistory is how many attempts a submission's History keeps.
const MaxHistory = 20

// Attempt is one delivery of a submission that did not end it, or the one
// that dead-lettered it.
type Attempt struct {
	// N is the delivery number (Job.Attempt).
	N        int       `json:"n" doc:"Delivery number, from 1."`
	At       time.Time `json:"at" doc:"When the delivery ended."`
	Outcome  string    `json:"outcome" doc:"executor_unavailable, failed, lease_expired or deadline."`
	Worker   string    `json:"worker,omitempty" doc:"The worker that held the job."`
	Executor string    `json:"executor,omitempty" doc:"The executor that ran it, when one did."`
	Error    string    `json:"error,omitempty" doc:"What went wrong."`
}
