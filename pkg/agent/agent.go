// Package agent is the supervisor that runs inside a sandbox container as
// its PID 1 (the execbox binary in its hidden "agent" mode, mounted read-only
// from a Docker volume).
//
// Protocol: the executor writes one JSON Spec on the container's stdin; the
// agent writes the files into the work directory, runs the compile step once
// and the run step once per test case as an unprivileged uid, and prints one
// JSON Result on stdout. The program's stdio are pipes to the agent, so it
// cannot reach the agent's stdout and forge the result.
//
// Rules the agent applies to every step:
//   - the step's processes run as Spec.UID in their own session, with
//     rlimits NPROC (processes), FSIZE (Limits.FileKB under Spec.FileBytes),
//     CORE=0, NOFILE and STACK (Limits.StackKB, else the memory limit);
//     a program killed by SIGXFSZ ends as output_limit_exceeded with
//     limit_exceeded "file";
//   - wall time: at the deadline every process in the container but the
//     agent is killed (kill(-1, SIGKILL) from PID 1), and the same happens as
//     soon as the main process exits, so background and daemonised processes
//     cannot outlive the step or hold it open;
//   - CPU time and memory (resident set summed over the step's processes) are
//     polled from /proc every few milliseconds and the step is killed when
//     one exceeds its limit; the container's memory cgroup is a backstop
//     whose OOM kills the executor recognises through the Docker API;
//   - stdout and stderr are each captured up to Limits.OutputBytes; past the
//     cap the step is killed and ends as output_limit_exceeded with the
//     stream flagged truncated (what was captured is kept);
//   - expected output, when given, is compared ignoring trailing whitespace
//     on each line and trailing empty lines.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/execbox/app/pkg/job"
)

// WorkDir is where the files are written and the steps run.
const WorkDir = "/box"

// TmpDir is the sandbox's /tmp, emptied between test cases.
const TmpDir = "/tmp"

// MaxSpecBytes bounds the job the agent accepts on stdin.
const MaxSpecBytes = 64 << 20

// Spec is the job as the agent receives it. It is built by the executor
// from the catalog and the request; the agent trusts its commands.
type Spec struct {
	Files []job.File `json:"files"`
	// Env overrides the agent's own environment (the image's) for both
	// steps: HOME, LANG, catalog entries.
	Env     []string `json:"env,omitempty"`
	Compile *Command `json:"compile,omitempty"`
	Run     Command  `json:"run"`
	// Tests, when given, run the program once each; otherwise it runs once
	// with Stdin.
	Tests []job.TestCase `json:"tests,omitempty"`
	Stdin string         `json:"stdin,omitempty"`
	// UID (and GID) the program runs as; never 0.
	UID int `json:"uid"`
	// FileBytes is RLIMIT_FSIZE for the steps.
	FileBytes int64 `json:"file_bytes,omitempty"`
	// OpenFiles is RLIMIT_NOFILE for the steps.
	OpenFiles int64 `json:"open_files,omitempty"`
	// MaxResultBytes bounds the JSON result; outputs are trimmed (and
	// flagged truncated) to fit.
	MaxResultBytes int `json:"max_result_bytes,omitempty"`
	// LimitInChild sets RLIMIT_NPROC in each step's first process (through
	// ExecLimited) instead of on the agent, whose own threads then never
	// count against it. Needed under gVisor, which (unlike Linux) does not
	// exempt root's threads from RLIMIT_NPROC: a process limit below the
	// agent's thread count made every fork of the agent fail.
	LimitInChild bool `json:"limit_in_child,omitempty"`
	// MaxStackBytes caps RLIMIT_STACK, which is otherwise the step's memory
	// limit (0: no cap). gVisor grows a stack to 128 MiB at most, whatever
	// the limit, and Ruby, which sizes its stack checks from the limit,
	// crashed (SIGSEGV) under a larger one.
	MaxStackBytes int64 `json:"max_stack_bytes,omitempty"`
	// CPUs is the sandbox's CPU quota in cores, when per-process CPU times
	// must be bounded by it (gVisor's count a throttled thread's waiting;
	// 0: taken as measured).
	CPUs float64 `json:"cpus,omitempty"`
	// Interactive keeps stdin open after the job: the executor sends
	// live.Input lines (stdin, stdin_close, signal) for the run step, which
	// runs once and gets no Stdin. IdleTimeoutMs ends it (time limit,
	// "idle") after that long without input or output.
	Interactive   bool  `json:"interactive,omitempty"`
	IdleTimeoutMs int64 `json:"idle_timeout_ms,omitempty"`
	// MergeStderr gives every step one pipe for stdout and stderr
	// (job.Request.MergeStderr): the order is the program's own.
	MergeStderr bool `json:"merge_stderr,omitempty"`
}

// Command is one step's argv and limits (all limits set).
type Command struct {
	Argv   []string   `json:"argv"`
	Limits job.Limits `json:"limits"`
}

// Step is one measured process run.
type Step struct {
	job.Step
	// UnexplainedKill: the main process died of a SIGKILL the agent did not
	// send and no limit explains. The kernel's OOM killer (the container's
	// memory cgroup) is the likely sender; the executor confirms it with
	// the container's OOMKilled state.
	UnexplainedKill bool `json:"unexplained_kill,omitempty"`
}

// Result is the agent's one line of output.
type Result struct {
	Compile *Step  `json:"compile,omitempty"`
	Runs    []Step `json:"runs,omitempty"`
	// Error is set when the agent itself failed: an internal error.
	Error string `json:"error,omitempty"`
}

// Main reads a job on in and writes its live events and then its result
// on out, one Frame per line. It must run as PID 1 of a sandbox container:
// it kills every other process it can see.
func Main(ctx context.Context, in io.Reader, out io.Writer) error {
	var spec Spec
	dec := json.NewDecoder(io.LimitReader(in, MaxSpecBytes))
	if err := dec.Decode(&spec); err != nil {
		if errors.Is(err, io.EOF) {
			// The executor went away before sending a job (a pooled
			// sandbox being discarded): nothing to do.
			return nil
		}
		return writeResult(out, Result{Error: fmt.Sprintf("agent: read job: %v", err)})
	}
	var con *console
	if spec.Interactive {
		con = newConsole(dec, time.Duration(spec.IdleTimeoutMs)*time.Millisecond)
	}
	em := newEmitter(out)
	res, err := run(ctx, spec, em, con)
	em.close()
	if err != nil {
		res = Result{Error: "agent: " + err.Error()}
	}
	return writeResult(out, fit(res, spec.MaxResultBytes))
}

func writeResult(out io.Writer, res Result) error {
	b, err := json.Marshal(Frame{Result: &res})
	if err != nil {
		return fmt.Errorf("agent: encode result: %w", err)
	}
	if _, err := out.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("agent: write result: %w", err)
	}
	return nil
}
