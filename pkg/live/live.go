// Package live holds what travels while a submission runs: its output
// events (from the sandbox agent through the executor, the worker and the
// queue to the gateway) and, for an interactive run, its input (stdin and
// signals, from the gateway through the queue and the worker to the
// executor). Every hop is bounded: a hop that cannot keep up drops output
// and the offsets of the events that follow say how many bytes are missing.
//
// The queue's Redis (pkg/redisq), the in-process queue (pkg/memq) and the
// queue role's HTTP client implement Hub, so a gateway never needs a link to
// the executor that runs the program.
package live

import (
	"context"
	"errors"
	"time"
)

// Event kinds.
const (
	KindOutput = "output" // a chunk of stdout or stderr
	KindStage  = "stage"  // a step begins
	KindEnd    = "end"    // the last event: the result follows
)

// Step names.
const (
	StepCompile = "compile"
	StepRun     = "run"
)

// Event is one item of a submission's live output.
type Event struct {
	// Seq counts the output events from 0 per submission, in the order
	// the agent read them (a hole means events were dropped); other kinds
	// carry the Seq of the next output event.
	Seq  int64  `json:"seq"`
	Kind string `json:"kind"`
	// Step is "compile" or "run", Test the test-case index (0 without tests).
	Step string `json:"step,omitempty"`
	Test int    `json:"test,omitempty"`
	// Stream is "stdout" or "stderr"; Data the text (UTF-8, invalid bytes
	// replaced; a character split between two reads is kept whole).
	Stream string `json:"stream,omitempty"`
	Data   string `json:"data,omitempty"`
	// Offset is how many bytes of output (every step and stream) came
	// before this chunk, Size the chunk's bytes as the program wrote them:
	// an Offset beyond the previous chunk's end counts dropped bytes.
	Offset int64 `json:"offset,omitempty"`
	Size   int64 `json:"size,omitempty"`
}

// End is the offset just past the chunk.
func (e Event) End() int64 { return e.Offset + e.Size }

// Input types.
const (
	InputStdin      = "stdin"
	InputStdinClose = "stdin_close"
	InputSignal     = "signal"
)

// Signals lists the signals a client may send to a running program.
var Signals = []string{"SIGINT", "SIGTERM", "SIGKILL", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2"}

// ValidSignal reports whether name is one of Signals.
func ValidSignal(name string) bool {
	for _, s := range Signals {
		if s == name {
			return true
		}
	}
	return false
}

// Input is one message to an interactive run.
type Input struct {
	Type   string `json:"type"`
	Data   string `json:"data,omitempty"`
	Signal string `json:"signal,omitempty"`
}

// Bounds shared by every hop.
const (
	// MaxChunk is the most text one output event carries; the agent
	// coalesces smaller writes up to it.
	MaxChunk = 32 << 10
	// MaxInput is the most stdin one Input carries.
	MaxInput = 64 << 10
	// MaxEvents is how many events a stream keeps for late readers.
	MaxEvents = 1024
	// MaxInputs is how many unread inputs a stream keeps.
	MaxInputs = 1024
	// TTL is how long a stream outlives its last write.
	TTL = 10 * time.Minute
)

// ErrNotFound: no live stream with that id (never started, or expired).
var ErrNotFound = errors.New("live stream not found")

// Hub carries the live streams of submissions. Output and input are
// separate streams per submission; both are bounded (the oldest items are
// trimmed) and expire TTL after their last write.
type Hub interface {
	// Publish appends events to the output of submission id.
	Publish(ctx context.Context, id string, evs ...Event) error
	// Output returns the output events after cursor ("" from the oldest
	// kept), waiting up to wait for at least one, and the cursor to
	// continue from. No events and the same cursor mean none arrived.
	Output(ctx context.Context, id, cursor string, wait time.Duration) ([]Event, string, error)
	// SendInput appends one input of submission id.
	SendInput(ctx context.Context, id string, in Input) error
	// Input returns the inputs after cursor as Output does.
	Input(ctx context.Context, id, cursor string, wait time.Duration) ([]Input, string, error)
}

// Sink receives the live output of one job as it runs. It must not block:
// an implementation that cannot keep up drops events (the offsets of the
// next ones tell).
type Sink func(Event)

// IO is the live side of one job run by an executor: where its output goes
// and, for an interactive run, where its input comes from (closed when no
// more input will come).
type IO struct {
	Output Sink
	Input  <-chan Input
}
