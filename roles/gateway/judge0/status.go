package judge0

// Status mapping: execbox verdicts to Judge0 status ids 1 to 14 (see the
// package documentation for the choices where Judge0 has no equivalent).

import (
	"fmt"
	"strings"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway/core"
)

// statusOf maps a submission's status to Judge0's, with the message
// Judge0 would show.
func statusOf(s job.Submission) (Status, string) {
	st := func(id int) Status { return statuses[id-1] }
	msg := ""
	if s.Result != nil {
		msg = s.Result.Message
	}
	if overTime(s) {
		// cpu_extra_time let the program finish, but it used more than
		// its cpu_time_limit: Judge0 (isolate -x) reports that as a time
		// limit exceeded, with the real time.
		return st(5), "Time limit exceeded"
	}
	switch s.Status {
	case job.StatusQueued, "":
		return st(1), ""
	case job.StatusRunning:
		return st(2), ""
	case job.StatusAccepted:
		return st(3), msg
	case job.StatusWrongAnswer:
		return st(4), msg
	case job.StatusTimeLimit:
		return st(5), orDefault(msg, "Time limit exceeded")
	case job.StatusCompilationError:
		return st(6), msg
	case job.StatusMemoryLimit:
		return st(12), orDefault(msg, "Memory limit exceeded")
	case job.StatusOutputLimit:
		return st(8), orDefault(msg, "Output limit exceeded")
	case job.StatusCanceled:
		return st(13), orDefault(msg, "Canceled")
	case job.StatusInternalError:
		return st(13), msg
	case job.StatusRuntimeError:
		var run *job.Step
		if s.Result != nil {
			run = failedRun(s.Result)
		}
		if run == nil {
			return st(11), msg
		}
		if strings.Contains(strings.ToLower(run.Message+" "+msg), "exec format error") {
			return st(14), orDefault(msg, run.Message)
		}
		switch run.Signal {
		case "":
			return st(11), orDefault(msg, fmt.Sprintf("Exited with error status %d", run.ExitCode))
		case "SIGSEGV":
			return st(7), msg
		case "SIGXFSZ":
			return st(8), msg
		case "SIGFPE":
			return st(9), msg
		case "SIGABRT":
			return st(10), msg
		}
		return st(12), orDefault(msg, "Killed by "+run.Signal)
	}
	return st(13), msg
}

// failedRun is the first run with a runtime error (or the main run).
func failedRun(res *job.Result) *job.Step {
	for i := range res.Tests {
		if res.Tests[i].Verdict == job.StatusRuntimeError {
			return &res.Tests[i]
		}
	}
	return core.MainRun(res)
}

// orDefault is s, or def when s is empty.
func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// overTime: a run of s given cpu_extra_time used more CPU time than its
// cpu_time_limit.
func overTime(s job.Submission) bool {
	limit := s.Request.Compat.CPUTimeMs
	if limit <= 0 || s.Result == nil {
		return false
	}
	switch s.Status {
	case job.StatusAccepted, job.StatusWrongAnswer, job.StatusRuntimeError:
	default:
		return false
	}
	run, _ := judgedRun(s)
	return run != nil && run.CPUTimeMs > float64(limit)
}
