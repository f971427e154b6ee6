package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// pistonConn is one /api/v2/connect socket.
type pistonConn struct {
	t   *testing.T
	c   *websocket.Conn
	ctx context.Context
	err error // the read error that ended it
}

func dialPiston(t *testing.T, base string) *pistonConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v2/connect", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return &pistonConn{t: t, c: c, ctx: ctx}
}

func (p *pistonConn) send(m map[string]any) {
	p.t.Helper()
	b, _ := json.Marshal(m)
	if err := p.c.Write(p.ctx, websocket.MessageText, b); err != nil {
		p.t.Fatalf("send: %v", err)
	}
}

func (p *pistonConn) next() map[string]any {
	p.t.Helper()
	_, b, err := p.c.Read(p.ctx)
	if err != nil {
		p.err = err
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		p.t.Fatalf("message %q: %v", b, err)
	}
	return m
}

// rest reads every message up to the close and returns them and the close
// code and reason.
func (p *pistonConn) rest() ([]map[string]any, websocket.StatusCode, string) {
	var out []map[string]any
	for m := p.next(); m != nil; m = p.next() {
		out = append(out, m)
	}
	var ce websocket.CloseError
	if ok := asClose(p.err, &ce); !ok {
		return out, -1, p.err.Error()
	}
	return out, ce.Code, ce.Reason
}

func asClose(err error, ce *websocket.CloseError) bool {
	return errors.As(err, ce)
}

// until reads until a message of type typ (and stream, for data) arrives.
func (p *pistonConn) until(typ string) map[string]any {
	p.t.Helper()
	for {
		m := p.next()
		if m == nil {
			p.t.Fatalf("closed before a %q message: %v", typ, p.err)
		}
		if m["type"] == typ {
			return m
		}
	}
}

// TestPistonConnectConformance drives /api/v2/connect through every
// message type and close code of Piston's protocol (its readme,
// "Interactive execution", and api/src/api/v2.js).
func TestPistonConnectConformance(t *testing.T) {
	base := startAllEmbedded(t)
	cat := map[string]any{"type": "init", "language": "bash", "version": "*", "files": []any{map[string]any{"content": "echo ready; cat"}}}
	t.Run("interactive run, signal, exit, 4999", func(t *testing.T) {
		t.Parallel()
		p := dialPiston(t, base)
		p.send(cat)
		rt := p.next()
		if rt["type"] != "runtime" || rt["language"] != "bash" || rt["version"] == "" {
			t.Fatalf("first message %v, want runtime", rt)
		}
		if st := p.until("stage"); st["stage"] != "run" {
			t.Fatalf("stage %v", st)
		}
		if d := p.until("data"); d["stream"] != "stdout" || d["data"] != "ready\n" {
			t.Fatalf("data %v", d)
		}
		p.send(map[string]any{"type": "data", "stream": "stdin", "data": "Hello World!\n"})
		if d := p.until("data"); d["stream"] != "stdout" || d["data"] != "Hello World!\n" {
			t.Fatalf("echo %v", d)
		}
		p.send(map[string]any{"type": "signal", "signal": "SIGKILL"})
		msgs, code, reason := p.rest()
		if len(msgs) != 1 || msgs[0]["type"] != "exit" || msgs[0]["stage"] != "run" || msgs[0]["signal"] != "SIGKILL" || msgs[0]["code"] != nil {
			t.Errorf("after the signal %v, want one exit of run by SIGKILL with code null", msgs)
		}
		if _, ok := msgs[0]["code"]; !ok {
			t.Errorf("exit %v has no code key (Piston sends it null)", msgs[0])
		}
		if code != 4999 || reason != "Job Completed" {
			t.Errorf("close %d %q, want 4999 Job Completed", code, reason)
		}
	})
	t.Run("compile stage exits then run", func(t *testing.T) {
		t.Parallel()
		p := dialPiston(t, base)
		p.send(map[string]any{"type": "init", "language": "c", "version": "*", "files": []any{map[string]any{"name": "main.c",
			"content": "#include <stdio.h>\nint main(void){char b[64]; if(fgets(b,64,stdin)) printf(\"got %s\", b); return 3;}\n"}}})
		var seen []string
		for {
			m := p.next()
			if m == nil {
				break
			}
			switch m["type"] {
			case "stage":
				seen = append(seen, "stage "+m["stage"].(string))
				if m["stage"] == "run" {
					p.send(map[string]any{"type": "data", "stream": "stdin", "data": "x\n"})
				}
			case "exit":
				b, _ := json.Marshal(m)
				seen = append(seen, "exit "+string(b))
			case "data":
				seen = append(seen, "data "+m["stream"].(string)+" "+m["data"].(string))
			}
		}
		want := []string{"stage compile", `exit {"code":0,"signal":null,"stage":"compile","type":"exit"}`, "stage run",
			"data stdout got x\n", `exit {"code":3,"signal":null,"stage":"run","type":"exit"}`}
		if strings.Join(seen, "|") != strings.Join(want, "|") {
			t.Errorf("messages\n  %q\nwant\n  %q", seen, want)
		}
		if c := websocket.CloseStatus(p.err); c != 4999 {
			t.Errorf("close %v, want 4999", c)
		}
	})
	t.Run("compile error", func(t *testing.T) {
		t.Parallel()
		p := dialPiston(t, base)
		p.send(map[string]any{"type": "init", "language": "c", "version": "*", "files": []any{map[string]any{"content": "int main(void){ nope }"}}})
		msgs, code, _ := p.rest()
		last := msgs[len(msgs)-1]
		if last["type"] != "exit" || last["stage"] != "compile" || last["code"] == float64(0) || code != 4999 {
			t.Errorf("messages %v close %d, want the compile's non-zero exit and 4999", msgs, code)
		}
		for _, m := range msgs {
			if m["type"] == "stage" && m["stage"] == "run" {
				t.Errorf("a run stage after a failed compile: %v", msgs)
			}
		}
	})
	closes := []struct {
		name   string
		msgs   []map[string]any
		code   websocket.StatusCode
		reason string
		errMsg bool
	}{
		{"4000 already initialized", []map[string]any{cat, cat}, 4000, "Already Initialized", false},
		{"4001 init timeout", nil, 4001, "Initialization Timeout", false},
		{"4002 notified error", []map[string]any{{"type": "init", "language": "cobol-ish", "version": "9", "files": []any{map[string]any{"content": "x"}}}}, 4002, "Notified Error", true},
		{"4003 data before init", []map[string]any{{"type": "data", "stream": "stdin", "data": "x"}}, 4003, "Not yet initialized", false},
		{"4003 signal before init", []map[string]any{{"type": "signal", "signal": "SIGINT"}}, 4003, "Not yet initialized", false},
		{"4004 only stdin", []map[string]any{cat, {"type": "data", "stream": "stdout", "data": "x"}}, 4004, "Can only write to stdin", false},
		{"4005 invalid signal", []map[string]any{cat, {"type": "signal", "signal": "SIGNOPE"}}, 4005, "Invalid signal", false},
	}
	for _, tc := range closes {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := dialPiston(t, base)
			for i, m := range tc.msgs {
				p.send(m)
				if i == 0 && m["type"] == "init" && len(tc.msgs) > 1 {
					if rt := p.next(); rt["type"] != "runtime" {
						t.Fatalf("after init %v", rt)
					}
				}
			}
			msgs, code, reason := p.rest()
			if code != tc.code || reason != tc.reason {
				t.Errorf("close %d %q, want %d %q (messages %v)", code, reason, tc.code, tc.reason, msgs)
			}
			if tc.errMsg && (len(msgs) == 0 || msgs[len(msgs)-1]["type"] != "error" || msgs[len(msgs)-1]["message"] == "") {
				t.Errorf("messages %v, want an error message before the close", msgs)
			}
		})
	}
}
