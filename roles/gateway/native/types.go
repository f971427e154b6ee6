// Package native is the gateway's own API under /v1: its request and
// response types (from which /openapi.json is generated), their conversion
// to and from pkg/job, and the handlers, over the gateway core.
package native

import (
	"time"

	"github.com/execbox/app/pkg/httpx"
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

// SubmissionRequest is the body of POST /v1/submissions and /v1/execute.
type SubmissionRequest struct {
	Language       string            `json:"language" validate:"required" doc:"Language id or alias (GET /v1/languages)."`
	Version        string            `json:"version,omitempty" doc:"Language version or a prefix of it at a dot boundary (\"3\" selects 3.12)."`
	Source         *string           `json:"source,omitempty" doc:"One-file shortcut: the program's source. Give source or files, not both."`
	Files          []FileInput       `json:"files,omitempty" doc:"Source files; the one named like the language's source file (or else the first) is the entry point."`
	Stdin          string            `json:"stdin,omitempty" doc:"Standard input (ignored when tests are given)."`
	Args           []string          `json:"args,omitempty" doc:"Command-line arguments of the program."`
	CompileArgs    []string          `json:"compile_args,omitempty" doc:"Extra compiler arguments."`
	Tests          []job.TestCase    `json:"tests,omitempty" doc:"Test cases: the program runs once per case (compiled once)."`
	ExpectedOutput *string           `json:"expected_output,omitempty" doc:"Shortcut for one test case with stdin and this expected output."`
	Limits         *job.Limits       `json:"limits,omitempty" doc:"Run limits; each at most the server's maximum."`
	CompileLimits  *job.Limits       `json:"compile_limits,omitempty" doc:"Compile-step limits (compiled languages); each at most the server's maximum."`
	MergeStderr    bool              `json:"merge_stderr,omitempty" doc:"One pipe for stdout and stderr, as a shell's 2>&1: stdout holds both in the order written, stderr is empty."`
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
	Error  *httpx.Problem `json:"error,omitempty" doc:"Why this submission was refused."`
}

// BatchResponse answers POST /v1/submissions/batch, one item per submission
// in request order.
type BatchResponse struct {
	Items []BatchItem `json:"items" validate:"required"`
}

// Submission is a submission as the native API shows it.
type Submission struct {
	ID         string             `json:"id" validate:"required"`
	Status     job.Status         `json:"status" validate:"required"`
	Language   string             `json:"language" validate:"required"`
	Version    string             `json:"version,omitempty"`
	Priority   job.Priority       `json:"priority,omitempty"`
	Metadata   map[string]string  `json:"metadata,omitempty"`
	Attempts   int                `json:"attempts,omitempty"`
	History    []job.Attempt      `json:"history,omitempty" doc:"Deliveries that did not end the submission (executor unavailable, failed on a working executor, worker lost), oldest first."`
	Callback   *job.CallbackState `json:"callback,omitempty" doc:"Delivery of the callback_url, once the submission is final (while the queue holds it)."`
	CreatedAt  time.Time          `json:"created_at" validate:"required"`
	UpdatedAt  time.Time          `json:"updated_at,omitzero"`
	FinishedAt time.Time          `json:"finished_at,omitzero"`
	Result     *job.Result        `json:"result,omitempty" doc:"Present once the status is final."`
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
