package judge0

import (
	"strings"
	"testing"

	"github.com/execbox/app/pkg/job"
)

func TestJudge0StatusMapping(t *testing.T) {
	t.Parallel()
	sub := func(st job.Status, run *job.Step) job.Submission {
		return job.Submission{Status: st, Result: &job.Result{Status: st, Run: run}}
	}
	for _, tc := range []struct {
		s    job.Submission
		id   int
		desc string
	}{
		{job.Submission{Status: job.StatusQueued}, 1, "In Queue"},
		{job.Submission{Status: job.StatusRunning}, 2, "Processing"},
		{sub(job.StatusAccepted, &job.Step{}), 3, "Accepted"},
		{sub(job.StatusWrongAnswer, &job.Step{}), 4, "Wrong Answer"},
		{sub(job.StatusTimeLimit, &job.Step{}), 5, "Time Limit Exceeded"},
		{sub(job.StatusCompilationError, nil), 6, "Compilation Error"},
		{sub(job.StatusRuntimeError, &job.Step{Signal: "SIGSEGV"}), 7, "Runtime Error (SIGSEGV)"},
		{sub(job.StatusRuntimeError, &job.Step{Signal: "SIGXFSZ"}), 8, "Runtime Error (SIGXFSZ)"},
		{sub(job.StatusRuntimeError, &job.Step{Signal: "SIGFPE"}), 9, "Runtime Error (SIGFPE)"},
		{sub(job.StatusRuntimeError, &job.Step{Signal: "SIGABRT"}), 10, "Runtime Error (SIGABRT)"},
		{sub(job.StatusRuntimeError, &job.Step{ExitCode: 3}), 11, "Runtime Error (NZEC)"},
		{sub(job.StatusRuntimeError, &job.Step{Signal: "SIGKILL"}), 12, "Runtime Error (Other)"},
		{sub(job.StatusMemoryLimit, &job.Step{}), 12, "Runtime Error (Other)"},
		{sub(job.StatusOutputLimit, &job.Step{}), 8, "Runtime Error (SIGXFSZ)"},
		{sub(job.StatusInternalError, nil), 13, "Internal Error"},
		{sub(job.StatusCanceled, nil), 13, "Internal Error"},
		{sub(job.StatusRuntimeError, &job.Step{ExitCode: 126, Message: "exec format error"}), 14, "Exec Format Error"},
	} {
		st, _ := statusOf(tc.s)
		if st.ID != tc.id || st.Description != tc.desc {
			t.Errorf("%s %+v -> %+v, want %d %s", tc.s.Status, tc.s.Result, st, tc.id, tc.desc)
		}
	}
	if _, msg := statusOf(sub(job.StatusMemoryLimit, &job.Step{})); msg != "Memory limit exceeded" {
		t.Errorf("memory limit message %q", msg)
	}
}

func TestSplitArgs(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                  "",
		"a b  c":            "a|b|c",
		`"a b" 'c d' e\ f`:  "a b|c d|e f",
		`-x="1 2" ''`:       "-x=1 2|",
		`'it\'s'`:           `it\s`,
		"--flag\t--other\n": "--flag|--other",
	} {
		if got := strings.Join(splitArgs(in), "|"); got != want {
			t.Errorf("splitArgs(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLanguageIDOfOlderSubmissions: a submission stored before job.Compat
// kept its Judge0 language id in metadata, and is still answered with it.
func TestLanguageIDOfOlderSubmissions(t *testing.T) {
	t.Parallel()
	a := &API{}
	for _, tc := range []struct {
		req  job.Request
		want int
	}{
		{job.Request{Compat: job.Compat{API: apiName, LanguageID: 71}}, 71},
		{job.Request{Metadata: map[string]string{legacyMetaLanguageID: "70"}}, 70},
	} {
		out, err := a.toSubmission(job.Submission{ID: "x", Status: job.StatusQueued, Request: tc.req}, false)
		if err != nil || out.LanguageID != tc.want {
			t.Errorf("%+v: language_id %d (%v), want %d", tc.req, out.LanguageID, err, tc.want)
		}
	}
}
