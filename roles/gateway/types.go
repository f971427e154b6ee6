package gateway

import (
	"time"

	"github.com/execbox/app/pkg/job"
)

// The native API's request and response types. The handlers decode and
// encode exactly these, and /openapi.json is generated from them by
// reflection, so the document cannot drift from the code. A `doc` tag is the
// field's description; `validate:"required"` marks a required field.

// FileInput is one source file.
type FileInput struct {
	Name     string `json:"name,omitempty" doc:"File name, no directories. May be empty for the first file, which then takes the language's source file name."`
	Content  string `json:"content" validate:"required" doc:"File content, UTF-8 text or base64 (see encoding)."`
	Encoding string `json:"encoding,omitempty" enum:"utf8,base64" doc:"Encoding of content: utf8 (default) or base64."`
}

// TestInput is one test case: stdin and the output expected for it.
type TestInput struct {
	Stdin          string  `json:"stdin,omitempty" doc:"Standard input of this run."`
	ExpectedOutput *string `json:"expected_output,omitempty" doc:"Expected stdout; trailing whitespace on each line and trailing empty lines are ignored."`
}

// LimitsInput bounds each run. Zero or absent means the language's default.
type LimitsInput struct {
	CPUTimeMs   int64 `json:"cpu_time_ms,omitempty" doc:"CPU time limit in milliseconds."`
	WallTimeMs  int64 `json:"wall_time_ms,omitempty" doc:"Wall-clock time limit in milliseconds."`
	MemoryKB    int64 `json:"memory_kb,omitempty" doc:"Memory limit in KiB."`
	Processes   int64 `json:"processes,omitempty" doc:"Maximum number of processes and threads."`
	OutputBytes int64 `json:"output_bytes,omitempty" doc:"Maximum bytes captured per output stream."`
}

// SubmissionRequest is the body of POST /v1/submissions and /v1/execute.
type SubmissionRequest struct {
	Language       string            `json:"language" validate:"required" doc:"Language id or alias (GET /v1/languages)."`
	Version        string            `json:"version,omitempty" doc:"Language version or a prefix of it at a dot boundary (\"3\" selects 3.12)."`
	Source         *string           `json:"source,omitempty" doc:"One-file shortcut: the program's source. Give source or files, not both."`
	Files          []FileInput       `json:"files,omitempty" doc:"Source files; the one named like the language's source file (or else the first) is the entry point."`
	Stdin          string            `json:"stdin,omitempty" doc:"Standard input (ignored when tests are given)."`
	Args           []string          `json:"args,omitempty" doc:"Command-line arguments of the program."`
	CompileArgs    []string          `json:"compile_args,omitempty" doc:"Extra compiler arguments."`
	Tests          []TestInput       `json:"tests,omitempty" doc:"Test cases: the program runs once per case (compiled once)."`
	ExpectedOutput *string           `json:"expected_output,omitempty" doc:"Shortcut for one test case with stdin and this expected output."`
	Limits         *LimitsInput      `json:"limits,omitempty" doc:"Run limits; each at most the server's maximum."`
	CallbackURL    string            `json:"callback_url,omitempty" doc:"http(s) URL that receives the final submission as a POST with a JSON body."`
	Priority       string            `json:"priority,omitempty" enum:"high,normal,low" doc:"Queue priority (default normal)."`
	Metadata       map[string]string `json:"metadata,omitempty" doc:"Client data kept with the submission."`
}

// BatchRequest is the body of POST /v1/submissions/batch.
type BatchRequest struct {
	Submissions []SubmissionRequest `json:"submissions" validate:"required" doc:"The submissions, at most the server's batch maximum."`
}

// SubmissionCreated answers a submission that was accepted.
type SubmissionCreated struct {
	ID     string     `json:"id" validate:"required" doc:"Submission id (UUIDv7)."`
	Status job.Status `json:"status" validate:"required" enum:"queued,running,accepted,wrong_answer,time_limit_exceeded,memory_limit_exceeded,output_limit_exceeded,compilation_error,runtime_error,internal_error,canceled"`
}

// BatchItem is the outcome of one submission of a batch: an id or an error.
type BatchItem struct {
	ID     string         `json:"id,omitempty"`
	Status job.Status     `json:"status,omitempty"`
	Error  *ProblemDetail `json:"error,omitempty" doc:"Why this submission was refused."`
}

// BatchResponse answers POST /v1/submissions/batch, one item per submission
// in request order.
type BatchResponse struct {
	Items []BatchItem `json:"items" validate:"required"`
}

// ProblemDetail is an RFC 9457 problem (application/problem+json).
type ProblemDetail struct {
	Type      string       `json:"type,omitempty"`
	Title     string       `json:"title" validate:"required"`
	Status    int          `json:"status" validate:"required"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	Code      string       `json:"code,omitempty" doc:"Stable machine-readable error code."`
	Errors    []FieldIssue `json:"errors,omitempty" doc:"One entry per invalid field."`
	RequestID string       `json:"request_id,omitempty"`
}

// FieldIssue names one invalid request field.
type FieldIssue struct {
	Field   string `json:"field" validate:"required"`
	Message string `json:"message" validate:"required"`
}

// Submission is a submission as the native API shows it.
type Submission struct {
	ID         string            `json:"id" validate:"required"`
	Status     job.Status        `json:"status" validate:"required"`
	Language   string            `json:"language" validate:"required"`
	Version    string            `json:"version,omitempty"`
	Priority   job.Priority      `json:"priority,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	Attempts   int               `json:"attempts,omitempty"`
	CreatedAt  time.Time         `json:"created_at" validate:"required"`
	UpdatedAt  time.Time         `json:"updated_at,omitzero"`
	FinishedAt time.Time         `json:"finished_at,omitzero"`
	Result     *job.Result       `json:"result,omitempty" doc:"Present once the status is final."`
}

// SubmissionList is one page of GET /v1/submissions, newest first.
type SubmissionList struct {
	Items      []Submission `json:"items" validate:"required"`
	NextCursor string       `json:"next_cursor,omitempty" doc:"Pass as cursor to get the next page."`
}

// LanguageInfo describes one language of the catalog.
type LanguageInfo struct {
	ID         string     `json:"id" validate:"required"`
	Name       string     `json:"name" validate:"required"`
	Version    string     `json:"version" validate:"required"`
	Aliases    []string   `json:"aliases,omitempty"`
	SourceFile string     `json:"source_file" validate:"required"`
	Compiled   bool       `json:"compiled"`
	Limits     job.Limits `json:"limits" doc:"Default run limits."`
}

// LanguageList answers GET /v1/languages.
type LanguageList struct {
	Languages []LanguageInfo `json:"languages" validate:"required"`
}

func toSubmission(s job.Submission) Submission {
	return Submission{
		ID:         s.ID,
		Status:     s.Status,
		Language:   s.Request.Language,
		Version:    s.Request.Version,
		Priority:   s.Request.Priority,
		Metadata:   s.Request.Metadata,
		Attempts:   s.Attempts,
		CreatedAt:  s.CreatedAt,
		UpdatedAt:  s.UpdatedAt,
		FinishedAt: s.FinishedAt,
		Result:     s.Result,
	}
}
