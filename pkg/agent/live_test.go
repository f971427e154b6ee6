package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/execbox/app/pkg/live"
)

func frames(t *testing.T, b []byte) []live.Event {
	t.Helper()
	var out []live.Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var f Frame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil || f.Event == nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, *f.Event)
	}
	return out
}

// A character split between two reads arrives whole; invalid bytes are
// replaced; offsets count the bytes as written and seq counts chunks.
func TestEmitterKeepsCharactersWhole(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	e := newEmitter(&out)
	e.stage("run", 0)
	euro := []byte("€") // 3 bytes
	e.output("run", 0, "stdout", append([]byte("a"), euro[:2]...))
	e.output("run", 0, "stderr", []byte("err\n"))
	e.output("run", 0, "stdout", append(euro[2:], '\n'))
	e.output("run", 0, "stdout", []byte{0xff, '\n'})
	e.endStep("run", 0)
	e.close()
	var text strings.Builder
	var off int64
	seq := int64(0)
	for _, ev := range frames(t, out.Bytes()) {
		if ev.Kind != live.KindOutput {
			continue
		}
		if ev.Seq != seq || ev.Offset < off {
			t.Errorf("event %+v: want seq %d and offset at least %d", ev, seq, off)
		}
		seq, off = seq+1, ev.End()
		if ev.Stream == "stdout" {
			text.WriteString(ev.Data)
		}
	}
	if got, want := text.String(), "a€\n\uFFFD\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if off != int64(1+3+1+4+2) {
		t.Errorf("bytes counted %d, want %d", off, 1+3+1+4+2)
	}
}

// Past its bound the emitter drops chunks instead of waiting for a slow
// reader, and the offset of the next chunk shows the gap.
func TestEmitterDropsForSlowReader(t *testing.T) {
	t.Parallel()
	pr := &blockingWriter{release: make(chan struct{})}
	e := newEmitter(pr)
	chunk := bytes.Repeat([]byte("x"), 16<<10)
	n := 3 * maxQueuedBytes / len(chunk)
	for range n {
		e.output("run", 0, "stdout", chunk) // never blocks
	}
	close(pr.release)
	e.close()
	evs := frames(t, pr.buf.Bytes())
	var kept, end int64
	gap := false
	for _, ev := range evs {
		kept += ev.Size
		gap = gap || ev.Offset > end
		end = ev.End()
	}
	if kept >= int64(n*len(chunk)) || kept > 2*maxQueuedBytes+int64(len(chunk)) || !gap && end == int64(n*len(chunk)) {
		t.Errorf("kept %d of %d bytes (gap %v, end %d): want a bounded part, the gap visible in the offsets", kept, n*len(chunk), gap, end)
	}
}

// blockingWriter blocks every write until release closes.
type blockingWriter struct {
	release chan struct{}
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	return w.buf.Write(p)
}
