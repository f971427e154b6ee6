package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/execbox/app/pkg/agent"
	"github.com/execbox/app/pkg/live"
)

// frames reads the agent's stdout as it arrives: one agent.Frame per line,
// live events handed to the sink at once, the result kept. Nothing is kept
// of an event once handed on, so the agent's output costs no memory here
// beyond one line (at most max bytes).
type frames struct {
	mu       sync.Mutex
	max      int
	partial  []byte
	overflow bool
	sink     live.Sink
	result   *agent.Result
	err      error
	line     chan struct{} // closed once the result (or a bad line) is in
	finished bool
}

func newFrames(max int) *frames { return &frames{max: max, line: make(chan struct{})} }

func (f *frames) setSink(s live.Sink) {
	f.mu.Lock()
	f.sink = s
	f.mu.Unlock()
}

// Write splits p into lines; it never fails (the agent must not block).
func (f *frames) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(p)
	for len(p) > 0 && !f.finished {
		i := bytes.IndexByte(p, '\n')
		part := p
		if i >= 0 {
			part = p[:i]
		}
		if len(f.partial)+len(part) > f.max {
			f.overflow = true
		} else {
			f.partial = append(f.partial, part...)
		}
		if i < 0 {
			break
		}
		p = p[i+1:]
		f.handle()
		f.partial, f.overflow = f.partial[:0], false
	}
	return n, nil
}

// handle takes one complete line (mu held).
func (f *frames) handle() {
	if f.overflow {
		f.finish(nil, fmt.Errorf("sandbox result exceeds %d bytes", f.max))
		return
	}
	line := bytes.TrimSpace(f.partial)
	if len(line) == 0 {
		return
	}
	var fr agent.Frame
	if err := json.Unmarshal(line, &fr); err != nil {
		f.finish(nil, fmt.Errorf("sandbox result: %w", err))
		return
	}
	switch {
	case fr.Event != nil:
		if f.sink != nil {
			f.sink(*fr.Event)
		}
	case fr.Result != nil:
		f.finish(fr.Result, nil)
	}
}

func (f *frames) finish(res *agent.Result, err error) {
	f.result, f.err, f.finished = res, err, true
	f.partial = nil
	close(f.line)
}

// get returns the result once line is closed (or the stream ended).
func (f *frames) get() (agent.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.err != nil:
		return agent.Result{}, f.err
	case f.result == nil:
		return agent.Result{}, errNoResult
	}
	return *f.result, nil
}
