package agent

import (
	"encoding/json"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/execbox/app/pkg/live"
)

// Frame is one line of the agent's stdout: a live event while the job runs,
// then the result as the last line. The executor reads the lines as they
// come (pkg/sandbox).
type Frame struct {
	Event  *live.Event `json:"event,omitempty"`
	Result *Result     `json:"result,omitempty"`
}

// maxQueuedBytes bounds the live output the agent holds while its stdout
// (the executor) is slow; beyond it chunks are dropped, never the program
// slowed (the result keeps everything captured either way).
const maxQueuedBytes = 1 << 20

// emitter sends live events on the agent's stdout from its own goroutine,
// so a slow reader never blocks the step's pipes.
type emitter struct {
	out io.Writer

	mu      sync.Mutex
	queue   []live.Event
	queued  int
	seq     int64
	offset  int64
	pending map[string][]byte // an incomplete UTF-8 character per stream
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

func newEmitter(out io.Writer) *emitter {
	e := &emitter{out: out, pending: map[string][]byte{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go e.loop()
	return e
}

// stage records that a step begins.
func (e *emitter) stage(step string, test int) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flushPending(step, test)
	e.push(live.Event{Kind: live.KindStage, Step: step, Test: test})
}

// endStep sends what is left of a split character at a step's end.
func (e *emitter) endStep(step string, test int) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flushPending(step, test)
}

func (e *emitter) flushPending(step string, test int) {
	for _, stream := range []string{"stdout", "stderr"} {
		if p := e.pending[stream]; len(p) > 0 {
			delete(e.pending, stream)
			e.chunk(step, test, stream, p, strings.ToValidUTF8(string(p), "\uFFFD"))
		}
	}
}

// output records bytes the program wrote on stream (as captured).
func (e *emitter) output(step string, test int, stream string, b []byte) {
	if e == nil || len(b) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.pending[stream]; len(p) > 0 {
		b = append(p, b...)
		delete(e.pending, stream)
	}
	// Hold back a character split by the read.
	if cut := incompleteTail(b); cut < len(b) {
		e.pending[stream] = append([]byte(nil), b[cut:]...)
		b = b[:cut]
	}
	for len(b) > 0 {
		n := min(len(b), live.MaxChunk)
		for n < len(b) && n > 0 && !utf8.RuneStart(b[n]) {
			n--
		}
		if n == 0 {
			n = min(len(b), live.MaxChunk)
		}
		e.chunk(step, test, stream, b[:n], strings.ToValidUTF8(string(b[:n]), "\uFFFD"))
		b = b[n:]
	}
}

// incompleteTail returns where a trailing incomplete UTF-8 sequence of b
// starts (len(b) if there is none).
func incompleteTail(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			return len(b)
		}
	}
	return len(b)
}

// chunk queues one output event (mu held), coalescing with the last queued
// one of the same stream, or drops it when the queue is full.
func (e *emitter) chunk(step string, test int, stream string, raw []byte, text string) {
	off := e.offset
	e.offset += int64(len(raw))
	if e.closed || e.queued+len(text) > maxQueuedBytes {
		return // dropped: the next event's offset says how much
	}
	if n := len(e.queue); n > 0 {
		last := &e.queue[n-1]
		if last.Kind == live.KindOutput && last.Step == step && last.Test == test && last.Stream == stream &&
			last.End() == off && len(last.Data)+len(text) <= live.MaxChunk {
			last.Data += text
			last.Size += int64(len(raw))
			e.queued += len(text)
			return
		}
	}
	e.queued += len(text)
	e.push(live.Event{Kind: live.KindOutput, Step: step, Test: test, Stream: stream, Data: text, Offset: off, Size: int64(len(raw))})
}

func (e *emitter) push(ev live.Event) {
	if e.closed {
		return
	}
	ev.Seq = e.seq // a stage event carries the seq of the next chunk
	if ev.Kind == live.KindOutput {
		e.seq++
	}
	e.queue = append(e.queue, ev)
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *emitter) loop() {
	defer close(e.done)
	enc := json.NewEncoder(e.out)
	for {
		e.mu.Lock()
		batch := e.queue
		e.queue = nil
		e.queued = 0
		closed := e.closed
		e.mu.Unlock()
		for i := range batch {
			if err := enc.Encode(Frame{Event: &batch[i]}); err != nil {
				e.mu.Lock()
				e.closed = true // the reader is gone: drop the rest
				e.mu.Unlock()
				break
			}
		}
		if closed && len(batch) == 0 {
			return
		}
		if len(batch) == 0 {
			<-e.wake
		}
	}
}

// close writes what is queued and stops the emitter; the result goes
// after it.
func (e *emitter) close() {
	if e == nil {
		return
	}
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	<-e.done
}
