package sandbox_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
)

// recorder is a live.Sink that keeps every event with when it arrived.
type recorder struct {
	mu     sync.Mutex
	events []live.Event
	at     []time.Time
	wake   chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (r *recorder) sink(ev live.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *recorder) snapshot() ([]live.Event, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]live.Event(nil), r.events...), append([]time.Time(nil), r.at...)
}

// stdout is the text of the stdout events so far.
func (r *recorder) stdout() string {
	evs, _ := r.snapshot()
	var sb strings.Builder
	for _, e := range evs {
		if e.Kind == live.KindOutput && e.Stream == "stdout" {
			sb.WriteString(e.Data)
		}
	}
	return sb.String()
}

// waitFor waits until stdout contains want.
func (r *recorder) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for !strings.Contains(r.stdout(), want) {
		select {
		case <-r.wake:
		case <-deadline:
			t.Fatalf("no %q in the live output; got %q", want, r.stdout())
		}
	}
}

// A program printing a line every 200 ms: its lines arrive as separate
// chunks while it runs (the first one before the program wrote its last
// line, by the program's own clock), stdout and stderr interleaved in order,
// and the result carries the same text combined.
func TestLiveOutputWhileRunning(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	code := "import sys, time\nfor i in range(5):\n    sys.stdout.write('tick %d %r\\n' % (i, time.time())); sys.stdout.flush()\n    sys.stderr.write('err %d\\n' % i); sys.stderr.flush()\n    time.sleep(0.2)\n"
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := b.driver.ExecuteLive(ctx, job.Job{ID: job.NewID(time.Now()), Request: job.Request{Language: "python", Files: src("main.py", code)}, Attempt: 1},
		live.IO{Output: rec.sink})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != job.StatusAccepted {
		t.Fatalf("status %s: %s", res.Status, dump(res))
	}
	evs, at := rec.snapshot()
	var chunks []live.Event
	var firstAt time.Time
	for i, e := range evs {
		if e.Kind == live.KindOutput {
			if e.Seq != int64(len(chunks)) {
				t.Errorf("chunk %d has seq %d", len(chunks), e.Seq)
			}
			if len(chunks) == 0 {
				firstAt = at[i]
			}
			chunks = append(chunks, e)
		}
	}
	if len(evs) == 0 || evs[0].Kind != live.KindStage || evs[0].Step != live.StepRun {
		t.Fatalf("first event %+v, want the run stage", evs)
	}
	if len(chunks) < 5 {
		t.Fatalf("%d output chunks, want one per write at least for stdout: %+v", len(chunks), chunks)
	}
	lines := strings.Split(strings.TrimSpace(rec.stdout()), "\n")
	last, err := strconv.ParseFloat(strings.Fields(lines[len(lines)-1])[2], 64)
	if err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	if lastWrite := time.Unix(0, int64(last*1e9)); !firstAt.Before(lastWrite) {
		t.Errorf("first chunk arrived at %v, after the program wrote its last line at %v: not live", firstAt, lastWrite)
	}
	var combined strings.Builder
	var off int64
	for _, c := range chunks {
		if c.Offset != off {
			t.Errorf("chunk %d at offset %d, want %d (nothing dropped)", c.Seq, c.Offset, off)
		}
		off = c.End()
		combined.WriteString(c.Data)
	}
	if res.Run.Output == nil || res.Run.Output.Text != combined.String() {
		t.Errorf("result output %+v, want the live chunks combined %q", res.Run.Output, combined.String())
	}
	// Two pipes read by two goroutines: the order between the streams is
	// the order of arrival, each write whole.
	for i := range 5 {
		if !strings.Contains(res.Run.Output.Text, "\ntick "+strconv.Itoa(i)+" ") && !strings.HasPrefix(res.Run.Output.Text, "tick 0 ") ||
			!strings.Contains(res.Run.Output.Text, "err "+strconv.Itoa(i)+"\n") {
			t.Errorf("combined output %q: want every line of both streams whole", res.Run.Output.Text)
		}
	}
}

// interactive runs req as an interactive job with lio's input.
func interactive(t *testing.T, b *bundle, req job.Request, idle time.Duration) (chan live.Input, *recorder, <-chan job.Result) {
	t.Helper()
	req.Interactive = &job.Interactive{IdleTimeoutMs: idle.Milliseconds()}
	in := make(chan live.Input, 16)
	rec := newRecorder()
	done := make(chan job.Result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	go func() {
		res, err := b.driver.ExecuteLive(ctx, job.Job{ID: job.NewID(time.Now()), Request: req, Attempt: 1}, live.IO{Output: rec.sink, Input: in})
		if err != nil {
			t.Errorf("ExecuteLive: %v", err)
		}
		done <- res
	}()
	return in, rec, done
}

func wait(t *testing.T, done <-chan job.Result) job.Result {
	t.Helper()
	select {
	case res := <-done:
		return res
	case <-time.After(2 * time.Minute):
		t.Fatal("no result")
	}
	return job.Result{}
}

// A read-eval loop answers each line typed while it runs; a signal ends it;
// an idle session ends as time_limit_exceeded.
func TestInteractive(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	repl := "import sys\nprint('ready', flush=True)\nfor line in sys.stdin:\n    print(eval(line), flush=True)\n"
	t.Run("repl", func(t *testing.T) {
		t.Parallel()
		in, rec, done := interactive(t, b, job.Request{Language: "python", Files: src("main.py", repl)}, 30*time.Second)
		rec.waitFor(t, "ready\n")
		in <- live.Input{Type: live.InputStdin, Data: "1+1\n"}
		rec.waitFor(t, "ready\n2\n")
		in <- live.Input{Type: live.InputStdin, Data: "6*7\n"}
		rec.waitFor(t, "ready\n2\n42\n")
		in <- live.Input{Type: live.InputStdinClose}
		res := wait(t, done)
		if res.Status != job.StatusAccepted || res.Run.Stdout.Text != "ready\n2\n42\n" {
			t.Errorf("result %s", dump(res))
		}
	})
	t.Run("signal", func(t *testing.T) {
		t.Parallel()
		in, rec, done := interactive(t, b, job.Request{Language: "bash", Files: src("main.sh", "echo ready; while read -r l; do echo \"got $l\"; done")}, 30*time.Second)
		rec.waitFor(t, "ready\n")
		in <- live.Input{Type: live.InputStdin, Data: "x\n"}
		rec.waitFor(t, "got x\n")
		in <- live.Input{Type: live.InputSignal, Signal: "SIGTERM"}
		res := wait(t, done)
		if res.Status != job.StatusRuntimeError || res.Run.Signal != "SIGTERM" {
			t.Errorf("result %s, want runtime_error by SIGTERM", dump(res))
		}
	})
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		_, _, done := interactive(t, b, job.Request{Language: "bash", Files: src("main.sh", "read -r l")}, 500*time.Millisecond)
		res := wait(t, done)
		if res.Status != job.StatusTimeLimit || res.Run.LimitExceeded != "idle" {
			t.Errorf("result %s, want time_limit_exceeded (idle)", dump(res))
		}
	})
	t.Run("session length", func(t *testing.T) {
		t.Parallel()
		// Output keeps it from being idle; the wall limit is the session's length.
		_, _, done := interactive(t, b, job.Request{Language: "bash", Files: src("main.sh", "while :; do echo .; sleep 0.1; done"),
			Limits: job.Limits{WallTimeMs: 1500}}, 30*time.Second)
		res := wait(t, done)
		if res.Status != job.StatusTimeLimit || res.Run.LimitExceeded != "wall" {
			t.Errorf("result %s, want time_limit_exceeded (wall)", dump(res))
		}
	})
}
