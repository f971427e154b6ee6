package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
	"github.com/execbox/app/roles/gateway/core"
)

// WebSocket close codes of /v1/runs/ws.
const (
	CloseValidation   websocket.StatusCode = 4000
	CloseNoStart      websocket.StatusCode = 4001
	CloseUnauthorized websocket.StatusCode = 4003
	CloseBusy         websocket.StatusCode = 4013
	CloseRateLimited  websocket.StatusCode = 4029
)

// startTimeout is how long a client has to send its start message.
const startTimeout = 5 * time.Second

// maxWSMessage bounds one client message (a start message carries sources).
const maxWSMessage = 4 << 20

// WSMessage is every message of /v1/runs/ws, both ways; Type says which
// fields are set.
type WSMessage struct {
	Type string `json:"type"`
	// start
	Language string      `json:"language,omitempty"`
	Version  string      `json:"version,omitempty"`
	Files    []FileInput `json:"files,omitempty"`
	Args     []string    `json:"args,omitempty"`
	Limits   *job.Limits `json:"limits,omitempty"`
	APIKey   string      `json:"api_key,omitempty"`
	// stdin; output (with Stream)
	Data   string `json:"data,omitempty"`
	Stream string `json:"stream,omitempty"`
	// signal
	Signal string `json:"signal,omitempty"`
	// started
	ID string `json:"id,omitempty"`
	// stage
	Stage string `json:"stage,omitempty"`
	// result
	Result *Submission `json:"result,omitempty"`
	// error
	Code   string             `json:"code,omitempty"`
	Detail string             `json:"detail,omitempty"`
	Errors []httpx.FieldError `json:"errors,omitempty"`
}

// wsConn is one accepted WebSocket with JSON helpers.
type wsConn struct {
	c *websocket.Conn
}

func (w wsConn) send(ctx context.Context, m WSMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return w.c.Write(wctx, websocket.MessageText, b)
}

// fail sends an error message and closes with code.
func (w wsConn) fail(ctx context.Context, code websocket.StatusCode, kind, detail string, errs []httpx.FieldError) {
	_ = w.send(ctx, WSMessage{Type: "error", Code: kind, Detail: detail, Errors: errs})
	_ = w.c.Close(code, truncateReason(detail))
}

// truncateReason keeps a close reason within the protocol's 123 bytes.
func truncateReason(s string) string {
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

func (w wsConn) read(ctx context.Context) (WSMessage, error) {
	typ, b, err := w.c.Read(ctx)
	if err != nil {
		return WSMessage{}, err
	}
	var m WSMessage
	if typ != websocket.MessageText {
		return m, errors.New("messages must be text frames holding JSON")
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("message is not a JSON object: %v", err)
	}
	return m, nil
}

// handleRunWS runs one interactive program over a WebSocket (the protocol
// is in the README's "Interactive runs" section).
func (a *API) handleRunWS(w http.ResponseWriter, req *http.Request) {
	c, err := websocket.Accept(w, req, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return // Accept answered the failed handshake
	}
	c.SetReadLimit(maxWSMessage)
	conn := wsConn{c: c}
	defer func() { _ = c.CloseNow() }()
	ctx := req.Context()

	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	start, err := conn.read(sctx)
	cancel()
	if err != nil || start.Type != "start" {
		detail := "the first message must be {\"type\":\"start\", ...} within 5 s"
		if err != nil && sctx.Err() == nil && ctx.Err() == nil {
			detail += ": " + err.Error()
		}
		conn.fail(ctx, CloseNoStart, "validation", detail, nil)
		return
	}
	key, ok := core.PresentedKey(req)
	if !ok {
		key = start.APIKey
	}
	caller, err := a.svc.CallerFor(ctx, req, key)
	switch {
	case errors.Is(err, core.ErrUnauthorized):
		conn.fail(ctx, CloseUnauthorized, "unauthorized", "missing or invalid API key: send it as \"Authorization: Bearer KEY\" or as api_key in the start message", nil)
		return
	case err != nil:
		conn.fail(ctx, websocket.StatusInternalError, "internal", "cannot check API keys now", nil)
		return
	}
	in := SubmissionRequest{Language: start.Language, Version: start.Version, Files: start.Files, Args: start.Args, Limits: start.Limits}
	jr, errs := a.svc.Validate(ctx, caller, toInput(in, ""))
	if len(errs) > 0 {
		a.svc.Reject("invalid_request")
		conn.fail(ctx, CloseValidation, "validation", fmt.Sprintf("%d invalid field(s); see errors", len(errs)), errs)
		return
	}
	ss, err := a.svc.StartSession(ctx, caller, jr, api)
	switch {
	case core.IsRateLimited(err):
		conn.fail(ctx, CloseRateLimited, "rate_limited", err.Error(), nil)
		return
	case err != nil && core.IsBusy(err):
		conn.fail(ctx, CloseBusy, "busy", err.Error(), nil)
		return
	case err != nil:
		conn.fail(ctx, websocket.StatusInternalError, "internal", err.Error(), nil)
		return
	}
	defer ss.Close()
	version := jr.Version
	if l, ok := a.svc.Catalog().Lookup(jr.Language, jr.Version); ok {
		version = l.Version
	}
	if conn.send(ctx, WSMessage{Type: "started", ID: ss.Sub.ID, Language: jr.Language, Version: version}) != nil {
		return
	}

	// Client messages: stdin, stdin_close, signal.
	bad := make(chan error, 1)
	go func() {
		for {
			m, err := conn.read(ctx)
			if err != nil {
				var ce websocket.CloseError
				if errors.As(err, &ce) || ctx.Err() != nil {
					bad <- nil // the client left: the run is canceled
					return
				}
				bad <- err
				return
			}
			in, err := clientInput(m)
			if err != nil {
				bad <- err
				return
			}
			if err := ss.Input(ctx, in); err != nil && ctx.Err() == nil {
				bad <- fmt.Errorf("input not delivered: %w", err)
				return
			}
		}
	}()
	for {
		select {
		case it, ok := <-ss.Items():
			if !ok {
				return
			}
			switch {
			case it.Result != nil:
				sub := toSubmission(*it.Result)
				if conn.send(ctx, WSMessage{Type: "result", Result: &sub}) == nil {
					_ = c.Close(websocket.StatusNormalClosure, "")
				}
				return
			case it.Event.Kind == live.KindStage:
				err = conn.send(ctx, WSMessage{Type: "stage", Stage: it.Event.Step})
			case it.Event.Kind == live.KindOutput:
				err = conn.send(ctx, WSMessage{Type: "output", Stream: it.Event.Stream, Data: it.Event.Data})
			}
			if err != nil {
				return
			}
		case err := <-bad:
			if err != nil {
				conn.fail(ctx, CloseValidation, "validation", err.Error(), nil)
			}
			return
		case <-ctx.Done():
			return
		}
	}
}

// clientInput checks one client message after start.
func clientInput(m WSMessage) (live.Input, error) {
	switch m.Type {
	case live.InputStdin:
		if len(m.Data) > live.MaxInput {
			return live.Input{}, fmt.Errorf("data: at most %d bytes per stdin message", live.MaxInput)
		}
		return live.Input{Type: live.InputStdin, Data: m.Data}, nil
	case live.InputStdinClose:
		return live.Input{Type: live.InputStdinClose}, nil
	case live.InputSignal:
		if !live.ValidSignal(m.Signal) {
			return live.Input{}, fmt.Errorf("signal: %q is not one of %v", m.Signal, live.Signals)
		}
		return live.Input{Type: live.InputSignal, Signal: m.Signal}, nil
	case "start":
		return live.Input{}, errors.New("type: the run has started already")
	}
	return live.Input{}, fmt.Errorf("type: %q is not stdin, stdin_close or signal", m.Type)
}
