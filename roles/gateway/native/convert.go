package native

import (
	"net/http"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway/core"
)

// toInput converts a request body (and its Idempotency-Key header) into the
// core's input.
func toInput(in SubmissionRequest, idemKey string) core.Input {
	out := core.Input{
		Language:       in.Language,
		Version:        in.Version,
		Source:         in.Source,
		Stdin:          in.Stdin,
		Args:           in.Args,
		CompileArgs:    in.CompileArgs,
		Tests:          in.Tests,
		ExpectedOutput: in.ExpectedOutput,
		Limits:         in.Limits,
		CompileLimits:  in.CompileLimits,
		CallbackURL:    in.CallbackURL,
		MergeStderr:    in.MergeStderr,
		Priority:       in.Priority,
		Metadata:       in.Metadata,
		IdempotencyKey: idemKey,
	}
	if in.Files != nil {
		out.Files = make([]job.File, len(in.Files))
		for i, f := range in.Files {
			out.Files[i] = job.File{Name: f.Name, Content: f.Content, Encoding: job.Encoding(f.Encoding)}
		}
	}
	return out
}

// toSubmission renders a submission as the native API shows it.
func toSubmission(s job.Submission) Submission {
	return Submission{
		ID:         s.ID,
		Status:     s.Status,
		Language:   s.Request.Language,
		Version:    s.Request.Version,
		Priority:   s.Request.Priority,
		Metadata:   s.Request.Metadata,
		Attempts:   s.Attempts,
		History:    s.History,
		Callback:   s.Callback,
		CreatedAt:  s.CreatedAt,
		UpdatedAt:  s.UpdatedAt,
		FinishedAt: s.FinishedAt,
		Result:     s.Result,
	}
}

// itemProblem is the error of one batch item: the problem without what
// only a whole answer carries (type, instance, request id).
func itemProblem(p httpx.Problem) *httpx.Problem {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	return &httpx.Problem{Type: p.Type, Title: p.Title, Status: p.Status, Detail: p.Detail, Code: p.Code, Errors: p.Errors}
}

// languageInfo describes a catalog language.
func languageInfo(l catalog.Language) LanguageInfo {
	return LanguageInfo{ID: l.ID, Name: l.Name, Version: l.Version, Aliases: l.Aliases,
		SourceFile: l.SourceFile, Compiled: len(l.Compile) > 0, Limits: l.Limits}
}
