//go:build linux

package agent

import (
	"bytes"
	"encoding/json"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
)

// stepID names a step for its live events.
type stepID struct {
	name string
	test int
}

// begin marks the start of a step: its live events carry its name.
func (r *runner) begin(id stepID) {
	r.cur = id
	r.live.stage(id.name, id.test)
}

// interleaved is a step's stdout and stderr in the order they were read.
type interleaved struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *interleaved) write(b []byte) {
	c.mu.Lock()
	c.buf.Write(b)
	c.mu.Unlock()
}

func (c *interleaved) output(truncated bool) *job.Output {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := job.NewOutput(c.buf.Bytes(), truncated)
	return &o
}

// watch makes the two captures feed the combined output, the live events
// and the interactive idle clock.
func (r *runner) watch(stdout, stderr *capture) *interleaved {
	c := &interleaved{}
	id := r.cur
	for _, s := range []struct {
		c    *capture
		name string
	}{{stdout, "stdout"}, {stderr, "stderr"}} {
		s.c.onData = func(b []byte) {
			c.write(b)
			r.live.output(id.name, id.test, s.name, b)
			if r.con != nil {
				r.con.touch()
			}
		}
	}
	return c
}

// seen hands a captured piece to onData.
func (c *capture) seen(b []byte) {
	if c.onData != nil {
		c.onData(b)
	}
}

// console is the input side of an interactive run: the executor keeps the
// agent's stdin open after the job and sends live.Input lines on it.
type console struct {
	in       chan []byte // stdin data; closed at stdin_close or the end of input
	sigs     chan string
	last     atomic.Int64 // unix nanoseconds of the last input or output
	idleTime time.Duration

	mu      sync.Mutex
	stopped chan struct{}
}

// newConsole reads inputs from dec (after the job) until it ends.
func newConsole(dec *json.Decoder, idle time.Duration) *console {
	c := &console{in: make(chan []byte, 64), sigs: make(chan string, 16), idleTime: idle, stopped: make(chan struct{})}
	c.touch()
	go c.read(dec)
	return c
}

func (c *console) read(dec *json.Decoder) {
	inOpen := true
	defer func() {
		if inOpen {
			close(c.in)
		}
	}()
	for {
		var in live.Input
		if err := dec.Decode(&in); err != nil {
			return
		}
		c.touch()
		switch in.Type {
		case live.InputStdin:
			if inOpen && in.Data != "" {
				select {
				case c.in <- []byte(in.Data):
				case <-c.stopped:
					return
				}
			}
		case live.InputStdinClose:
			if inOpen {
				inOpen = false
				close(c.in)
			}
		case live.InputSignal:
			select {
			case c.sigs <- in.Signal:
			default:
			}
		}
	}
}

// console returns the console for a run step (nil otherwise), its idle
// clock started.
func (r *runner) console(isRun bool) *console {
	if !isRun || r.con == nil {
		return nil
	}
	r.con.touch()
	return r.con
}

func (c *console) touch() { c.last.Store(time.Now().UnixNano()) }

// feed writes stdin to the program until input ends or the step stops.
func (c *console) feed(w *os.File) {
	defer func() { _ = w.Close() }()
	for {
		select {
		case b, ok := <-c.in:
			if !ok {
				return
			}
			if _, err := w.Write(b); err != nil {
				return
			}
		case <-c.stopped:
			return
		}
	}
}

func (c *console) signals() <-chan string {
	if c == nil {
		return nil
	}
	return c.sigs
}

// idle reports whether the session had no input and no output for longer
// than its idle timeout.
func (c *console) idle() bool {
	if c == nil || c.idleTime <= 0 {
		return false
	}
	return time.Since(time.Unix(0, c.last.Load())) > c.idleTime
}

func (c *console) stop() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.stopped:
	default:
		close(c.stopped)
	}
}

// signalGroup sends the named signal to the step's process group.
func signalGroup(pid int, name string) {
	if sig := unix.SignalNum(name); sig != 0 && pid > 1 {
		_ = syscall.Kill(-pid, sig)
	}
}
