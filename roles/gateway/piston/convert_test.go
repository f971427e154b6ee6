package piston

import (
	"testing"

	"github.com/execbox/app/pkg/job"
)

func TestStages(t *testing.T) {
	t.Parallel()
	// A compile error reports the compile stage.
	out := toResponse(job.Submission{Status: job.StatusCompilationError, Result: &job.Result{Status: job.StatusCompilationError,
		Compile: &job.Step{Verdict: job.StatusCompilationError, Stderr: job.NewOutput([]byte("error: x"), false), ExitCode: 1}}}, "c", "12")
	if out.Compile == nil || out.Compile.Stderr != "error: x" || *out.Compile.Status != "RE" || out.Run != *out.Compile {
		t.Fatalf("compile error %+v", out)
	}
	out = toResponse(job.Submission{Status: job.StatusTimeLimit, Result: &job.Result{Status: job.StatusTimeLimit,
		Run: &job.Step{Verdict: job.StatusTimeLimit, Signal: "SIGKILL"}}}, "c", "12")
	if *out.Run.Status != "TO" || *out.Run.Signal != "SIGKILL" || out.Run.Code != nil {
		t.Fatalf("timeout %+v", out.Run)
	}
}

// TestStageOutputInterleaved: output is the executor's combined stream
// when it recorded one, stdout then stderr otherwise.
func TestStageOutputInterleaved(t *testing.T) {
	t.Parallel()
	st := job.Step{Stdout: job.NewOutput([]byte("1\n3\n"), false), Stderr: job.NewOutput([]byte("2\n"), false)}
	if got := toStage(st).Output; got != "1\n3\n2\n" {
		t.Errorf("without a combined stream: %q", got)
	}
	o := job.NewOutput([]byte("1\n2\n3\n"), false)
	st.Output = &o
	if got := toStage(st).Output; got != "1\n2\n3\n" {
		t.Errorf("combined: %q", got)
	}
}
