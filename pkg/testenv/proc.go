package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a process started by StartProc: typically the app binary in one of
// its roles. Its stdout and stderr are captured and, if the test fails,
// written to the test log.
type Proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{} // closed when the process has exited
	state  *os.ProcessState
	err    error // from cmd.Wait, other than a non-zero exit
}

// StartProc starts bin with args and returns at once (it does not wait for
// readiness: see WaitHTTP). The process gets this process's environment
// without the variables that configure the app (EXECBOX_* other than
// EXECBOX_TEST_*, REDIS_URL, DATABASE_URL), so a developer's shell cannot
// change what a test runs, plus env ("NAME=value"; later entries win). It is
// killed when the test ends if it still runs.
//
// On Linux the process is also killed if the test process dies (a panic or
// a -timeout), so no server outlives its test run.
func StartProc(t testing.TB, bin string, env []string, args ...string) *Proc {
	t.Helper()
	return startProc(t, nil, bin, env, args...)
}

// startProc is StartProc, run as the user cred if not nil.
func startProc(t testing.TB, cred *syscall.Credential, bin string, env []string, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(append(hermeticEnv(os.Environ()), "EXECBOX_EXECUTOR_INSTANCE="+Instance(t)), env...)
	p.cmd.SysProcAttr = sysProcAttr(cred)
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("testenv: start %s: %v", bin, err)
	}
	go func() {
		err := p.cmd.Wait()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			p.err = err
		}
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		// SIGTERM first, so that roles clean up after themselves (an
		// executor removes its sandboxes and warm pool), then SIGKILL.
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				p.Kill()
			}
		}
		if t.Failed() {
			t.Logf("testenv: %s\n--- stdout ---\n%s\n--- stderr ---\n%s", p, tail(p.Stdout()), tail(p.Stderr()))
		}
	})
	return p
}

// Instance is the executor instance name a test's processes get unless the
// test sets EXECBOX_EXECUTOR_INSTANCE itself: unique per test process and
// test, stable across restarts within the test (a restarted executor removes
// its predecessor's orphans). Without it every executor on the machine would
// be named after the host, and each removes the others' sandboxes at start
// and stop: test runs in parallel (several packages, several checkouts)
// would kill each other's containers.
func Instance(t testing.TB) string {
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	return fmt.Sprintf("test-%d-%08x", os.Getpid(), h.Sum32())
}

// hermeticEnv drops the variables that configure the app.
func hermeticEnv(environ []string) []string {
	out := environ[:0:0]
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "EXECBOX_TEST_"):
		case strings.HasPrefix(name, "EXECBOX_"), name == "REDIS_URL", name == "DATABASE_URL":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// String describes the process, e.g. "app queue --port 8086 (pid 123)".
func (p *Proc) String() string {
	return fmt.Sprintf("%s (pid %d)", strings.Join(p.cmd.Args, " "), p.Pid())
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stdout returns what the process wrote to standard output so far.
func (p *Proc) Stdout() string { return p.stdout.String() }

// Stderr returns what the process wrote to standard error so far (the app
// logs there).
func (p *Proc) Stderr() string { return p.stderr.String() }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process (for example syscall.SIGTERM to test a
// graceful shutdown).
func (p *Proc) Signal(sig os.Signal) error {
	return p.cmd.Process.Signal(sig)
}

// Wait waits up to timeout for the process to exit and returns its exit
// code: 128+N if signal N killed it, as a shell reports it. It returns an
// error if the process still runs after timeout (it is left running) or if
// waiting failed.
func (p *Proc) Wait(timeout time.Duration) (exitCode int, err error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		return -1, fmt.Errorf("%s still running after %v", p, timeout)
	}
	if p.err != nil {
		return -1, p.err
	}
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return p.state.ExitCode(), nil
}

// Kill kills the process (SIGKILL) and waits for it to be gone. Killing a
// process that has exited is a no-op.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("testenv: %s did not exit 10 s after SIGKILL", p)
	}
}

// WaitHTTP polls url with GET until it answers with wantStatus, and fails
// the test if that has not happened within timeout (with the last status or
// error seen). Use it to wait for a server's /health or /ready.
func WaitHTTP(t testing.TB, url string, wantStatus int, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == wantStatus {
				return
			}
			last = "status " + resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: GET %s: want status %d within %v, last: %s", url, wantStatus, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail keeps the end of long output readable in a test log.
func tail(s string) string {
	const max = 64 << 10
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("[... %d bytes cut ...]\n%s", len(s)-max, s[len(s)-max:])
}
