package piston

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
	"github.com/execbox/app/roles/gateway/core"
)

// Piston's close codes of /api/v2/connect.
const (
	closeAlreadyInitialized websocket.StatusCode = 4000
	closeInitTimeout        websocket.StatusCode = 4001
	closeNotifiedError      websocket.StatusCode = 4002
	closeNotInitialized     websocket.StatusCode = 4003
	closeOnlyStdin          websocket.StatusCode = 4004
	closeInvalidSignal      websocket.StatusCode = 4005
	closeJobCompleted       websocket.StatusCode = 4999
)

// initTimeout is how long Piston waits for init.
const initTimeout = time.Second

// signals are the names Piston accepts in a signal message (its
// globals.SIGNALS).
var signals = map[string]bool{}

func init() {
	for _, s := range strings.Fields("SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT SIGBUS SIGFPE SIGKILL SIGUSR1 SIGSEGV SIGUSR2 " +
		"SIGPIPE SIGALRM SIGTERM SIGSTKFLT SIGCHLD SIGCONT SIGSTOP SIGTSTP SIGTTIN SIGTTOU SIGURG SIGXCPU SIGXFSZ SIGVTALRM " +
		"SIGPROF SIGWINCH SIGIO SIGPWR SIGSYS") {
		signals[s] = true
	}
}

// ConnectMessage is every message of /api/v2/connect, both ways.
type ConnectMessage struct {
	Type     string  `json:"type"`
	Language string  `json:"language,omitempty"`
	Version  string  `json:"version,omitempty"`
	Stage    string  `json:"stage,omitempty"`
	Stream   string  `json:"stream,omitempty"`
	Data     string  `json:"data,omitempty"`
	Signal   *string `json:"signal,omitempty"`
	Message  string  `json:"message,omitempty"`
}

// exitMessage is Piston's exit: code and signal are both present, one null.
type exitMessage struct {
	Type   string  `json:"type"`
	Stage  string  `json:"stage"`
	Code   *int    `json:"code"`
	Signal *string `json:"signal"`
}

// connection is one /api/v2/connect socket.
type connection struct {
	a      *API
	c      *websocket.Conn
	req    *http.Request
	mu     sync.Mutex
	ss     *core.Session
	closed bool
}

// handleConnect speaks Piston's interactive protocol (its readme,
// "Interactive execution"): init within 1 s, runtime, stage, data both
// ways, signal, exit per stage, error, close 4999 when the job completed.
func (a *API) handleConnect(w http.ResponseWriter, req *http.Request) {
	c, err := websocket.Accept(w, req, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	c.SetReadLimit(4 << 20)
	defer func() { _ = c.CloseNow() }()
	cn := &connection{a: a, c: c, req: req}
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	timer := time.AfterFunc(initTimeout, func() {
		cn.mu.Lock()
		initialized := cn.ss != nil
		cn.mu.Unlock()
		if !initialized {
			cn.close(closeInitTimeout, "Initialization Timeout")
		}
	})
	defer timer.Stop()
	defer func() {
		cn.mu.Lock()
		ss := cn.ss
		cn.mu.Unlock()
		if ss != nil {
			ss.Close()
		}
	}()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if !cn.handle(ctx, b) {
			return
		}
	}
}

func (cn *connection) send(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return cn.c.Write(wctx, websocket.MessageText, b)
}

func (cn *connection) close(code websocket.StatusCode, reason string) {
	cn.mu.Lock()
	if cn.closed {
		cn.mu.Unlock()
		return
	}
	cn.closed = true
	cn.mu.Unlock()
	_ = cn.c.Close(code, reason)
}

// notify sends Piston's error message and closes 4002.
func (cn *connection) notify(ctx context.Context, msg string) {
	_ = cn.send(ctx, ConnectMessage{Type: "error", Message: msg})
	cn.close(closeNotifiedError, "Notified Error")
}

// handle takes one client message; false ends the connection.
func (cn *connection) handle(ctx context.Context, b []byte) bool {
	var m struct {
		Type   string          `json:"type"`
		Stream string          `json:"stream"`
		Data   json.RawMessage `json:"data"`
		Signal json.RawMessage `json:"signal"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		cn.notify(ctx, err.Error())
		return false
	}
	cn.mu.Lock()
	ss := cn.ss
	cn.mu.Unlock()
	switch m.Type {
	case "init":
		if ss != nil {
			cn.close(closeAlreadyInitialized, "Already Initialized")
			return false
		}
		return cn.init(ctx, b)
	case "data":
		if ss == nil {
			cn.close(closeNotInitialized, "Not yet initialized")
			return false
		}
		if m.Stream != "stdin" {
			cn.close(closeOnlyStdin, "Can only write to stdin")
			return false
		}
		var data string
		if len(m.Data) > 0 && json.Unmarshal(m.Data, &data) != nil {
			cn.notify(ctx, "data must be a string")
			return false
		}
		if len(data) > live.MaxInput {
			cn.notify(ctx, "data is too long for one message")
			return false
		}
		if err := ss.Input(ctx, live.Input{Type: live.InputStdin, Data: data}); err != nil {
			cn.notify(ctx, err.Error())
			return false
		}
	case "signal":
		if ss == nil {
			cn.close(closeNotInitialized, "Not yet initialized")
			return false
		}
		var sig string
		if json.Unmarshal(m.Signal, &sig) != nil || !signals[sig] {
			cn.close(closeInvalidSignal, "Invalid signal")
			return false
		}
		if err := ss.Input(ctx, live.Input{Type: live.InputSignal, Signal: sig}); err != nil {
			cn.notify(ctx, err.Error())
			return false
		}
	}
	// Piston ignores other message types.
	return true
}

// init validates the job, starts it and pumps its events to the client.
func (cn *connection) init(ctx context.Context, raw []byte) bool {
	in, msg := parseRequest(raw)
	in.Stdin = "" // Piston discards stdin of an interactive job
	var input core.Input
	var lang, ver string
	if msg == "" {
		input, lang, ver, msg = cn.a.toInput(in)
	}
	if msg != "" {
		cn.notify(ctx, msg)
		return false
	}
	key, _ := core.PresentedKey(cn.req)
	caller, err := cn.a.svc.CallerFor(ctx, cn.req, key)
	if err != nil {
		if errors.Is(err, core.ErrUnauthorized) {
			cn.notify(ctx, "missing or invalid API key (send it as \"Authorization: Bearer KEY\")")
		} else {
			cn.notify(ctx, "cannot check API keys now")
		}
		return false
	}
	jr, errs := cn.a.svc.Validate(ctx, caller, input)
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Field + ": " + e.Message
		}
		cn.a.svc.Reject("invalid_request")
		cn.notify(ctx, strings.Join(msgs, "; "))
		return false
	}
	ss, err := cn.a.svc.StartSession(ctx, caller, jr, api)
	if err != nil {
		cn.notify(ctx, err.Error())
		return false
	}
	cn.mu.Lock()
	cn.ss = ss
	cn.mu.Unlock()
	if cn.send(ctx, ConnectMessage{Type: "runtime", Language: lang, Version: ver}) != nil {
		return false
	}
	go cn.pump(ctx, ss)
	return true
}

// pump sends the session's stages, output and exits, then closes 4999.
func (cn *connection) pump(ctx context.Context, ss *core.Session) {
	compiling := false
	for it := range ss.Items() {
		var err error
		switch {
		case it.Result != nil:
			cn.finish(ctx, *it.Result, compiling)
			return
		case it.Event.Kind == live.KindStage:
			if it.Event.Step == live.StepRun && compiling {
				// The run starts only after a compile that succeeded.
				compiling = false
				err = cn.send(ctx, exitMessage{Type: "exit", Stage: "compile", Code: ptr(0)})
			}
			if it.Event.Step == live.StepCompile {
				compiling = true
			}
			if err == nil {
				err = cn.send(ctx, ConnectMessage{Type: "stage", Stage: it.Event.Step})
			}
		case it.Event.Kind == live.KindOutput:
			err = cn.send(ctx, ConnectMessage{Type: "data", Stream: it.Event.Stream, Data: it.Event.Data})
		}
		if err != nil {
			return
		}
	}
}

// finish sends the exit of the last stage and closes the socket.
func (cn *connection) finish(ctx context.Context, s job.Submission, compiling bool) {
	res := s.Result
	if res == nil {
		res = &job.Result{Status: s.Status}
	}
	var stage string
	var st *job.Step
	switch {
	case compiling && res.Compile != nil:
		stage, st = "compile", res.Compile
	case res.Run != nil:
		stage, st = "run", res.Run
	case res.Compile != nil:
		stage, st = "compile", res.Compile
	}
	if st != nil {
		e := exitMessage{Type: "exit", Stage: stage}
		if st.Signal != "" {
			e.Signal = ptr(st.Signal)
		} else {
			e.Code = ptr(st.ExitCode)
		}
		if cn.send(ctx, e) != nil {
			return
		}
	} else if s.Status != job.StatusAccepted {
		// Nothing ran (canceled, internal error): say why.
		msg := res.Message
		if msg == "" {
			msg = string(s.Status)
		}
		cn.notify(ctx, msg)
		return
	}
	cn.close(closeJobCompleted, "Job Completed")
}
