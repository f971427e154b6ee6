package sandbox_test

import (
	"strings"
	"testing"

	"github.com/execbox/app/pkg/job"
)

// TestFileAndStackLimits: Limits.FileKB is the program's RLIMIT_FSIZE (a
// write past it is SIGXFSZ: output_limit_exceeded, limit "file"; a program
// that ignores the signal sees EFBIG) and Limits.StackKB its RLIMIT_STACK.
// The agent's own writes are not bounded by them: with several test cases
// the work directory is restored between runs, also a file larger than the
// program's limit.
func TestFileAndStackLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tests := []struct {
		name       string
		lang, file string
		code       string
		limits     job.Limits
		extra      []job.File
		cases      []job.TestCase
		status     job.Status
		limit      string
		signal     string
		stdout     string
	}{
		{name: "write past file_kb is SIGXFSZ", lang: "bash", file: "main.sh",
			code:   "exec head -c 300000 /dev/zero > /box/big",
			limits: job.Limits{FileKB: 100}, status: job.StatusOutputLimit, limit: "file", signal: "SIGXFSZ"},
		{name: "within file_kb", lang: "bash", file: "main.sh",
			code:   "head -c 300000 /dev/zero > /box/big && wc -c < /box/big",
			limits: job.Limits{FileKB: 400}, status: job.StatusAccepted, stdout: "300000\n"},
		{name: "python ignores SIGXFSZ and sees EFBIG", lang: "python", file: "main.py",
			code: "try:\n    open('/tmp/big', 'wb').write(b'x' * 300000)\nexcept OSError as e:\n    print(e.errno)\n",
			// EFBIG is 27.
			limits: job.Limits{FileKB: 100}, status: job.StatusAccepted, stdout: "27\n"},
		{name: "stack_kb is the stack's soft limit", lang: "bash", file: "main.sh",
			code:   "ulimit -s",
			limits: job.Limits{StackKB: 4096}, status: job.StatusAccepted, stdout: "4096\n"},
		{name: "the stack defaults to the memory limit", lang: "bash", file: "main.sh",
			code:   "ulimit -s",
			limits: job.Limits{MemoryKB: 65536}, status: job.StatusAccepted, stdout: "65536\n"},
		{name: "the agent restores a file larger than file_kb between runs", lang: "bash", file: "main.sh",
			// big is written by the agent (300000 bytes); each run
			// shrinks it, and the next run must find it whole again.
			code:   "wc -c < /box/big; head -c 10 /dev/zero > /box/big",
			extra:  []job.File{{Name: "big", Content: strings.Repeat("x", 300000)}},
			limits: job.Limits{FileKB: 100}, cases: []job.TestCase{{Stdin: "1"}, {Stdin: "2"}},
			status: job.StatusAccepted, stdout: "300000\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := append(src(tc.file, tc.code), tc.extra...)
			res := b.run(t, job.Request{Language: tc.lang, Files: files, Limits: tc.limits, Tests: tc.cases})
			if res.Status != tc.status {
				t.Fatalf("status %s, want %s: %s", res.Status, tc.status, dump(res))
			}
			if res.Run.LimitExceeded != tc.limit || res.Run.Signal != tc.signal {
				t.Errorf("limit %q signal %q, want %q %q: %s", res.Run.LimitExceeded, res.Run.Signal, tc.limit, tc.signal, dump(res))
			}
			if tc.stdout != "" && res.Run.Stdout.Text != tc.stdout {
				t.Errorf("stdout %q, want %q", res.Run.Stdout.Text, tc.stdout)
			}
			for i, r := range res.Tests {
				if r.Stdout.Text != "300000\n" {
					t.Errorf("test %d: stdout %q: the work directory was not restored", i, r.Stdout.Text)
				}
			}
			if tc.limit == "file" && !strings.Contains(res.Run.Message, "file size limit of 100 KB") {
				t.Errorf("message %q does not name the file size limit", res.Run.Message)
			}
		})
	}
}
