package sandbox

import (
	"testing"
	"time"

	"github.com/execbox/app/pkg/agent"
	"github.com/execbox/app/pkg/job"
)

func TestHostCPUBudget(t *testing.T) {
	t.Parallel()
	spec := agent.Spec{
		Compile: &agent.Command{Limits: job.Limits{CPUTimeMs: 10000}},
		Run:     agent.Command{Limits: job.Limits{CPUTimeMs: 1000}},
		Tests:   []job.TestCase{{}, {}},
	}
	total, runs := hostCPUBudget(spec)
	if want := 2*time.Second*3/2 + 2*time.Second; runs != want {
		t.Errorf("runs budget %v, want %v", runs, want)
	}
	if want := 12*time.Second*3/2 + 2*time.Second; total != want {
		t.Errorf("total budget %v, want %v", total, want)
	}
}

// A finished job is held to the run steps' budget once the compile's own
// CPU time is taken off what the host saw; results a limit already ended
// keep their verdict.
func TestHostCPUCheck(t *testing.T) {
	t.Parallel()
	const runs = 3500 * time.Millisecond
	compiled := &job.Step{Verdict: job.StatusAccepted, CPUTimeMs: 4000}
	cases := []struct {
		name   string
		used   time.Duration
		res    job.Result
		status job.Status
	}{
		{"within", 3 * time.Second, job.Result{Status: job.StatusAccepted}, job.StatusAccepted},
		{"hidden CPU", 9 * time.Second, job.Result{Status: job.StatusAccepted}, job.StatusTimeLimit},
		{"hidden CPU, wrong answer", 9 * time.Second, job.Result{Status: job.StatusWrongAnswer}, job.StatusTimeLimit},
		{"the compile's CPU is not the program's", 7 * time.Second, job.Result{Status: job.StatusAccepted, Compile: compiled}, job.StatusAccepted},
		{"past it after the compile", 8 * time.Second, job.Result{Status: job.StatusAccepted, Compile: compiled}, job.StatusTimeLimit},
		{"memory limit kept", 9 * time.Second, job.Result{Status: job.StatusMemoryLimit}, job.StatusMemoryLimit},
		{"compile error kept", 9 * time.Second, job.Result{Status: job.StatusCompilationError}, job.StatusCompilationError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &cpuWatch{budget: time.Minute}
			w.used.Store(int64(tc.used))
			got := w.check(tc.res, runs)
			if got.Status != tc.status {
				t.Fatalf("status %s, want %s (%s)", got.Status, tc.status, got.Message)
			}
			if tc.status == job.StatusTimeLimit && (got.Run == nil || got.Run.LimitExceeded != "cpu") {
				t.Errorf("run step %+v, want one over its CPU limit", got.Run)
			}
			if got.Compile != tc.res.Compile {
				t.Error("the compile step was lost")
			}
		})
	}
}
