// Package runcli is the client behind "app run": it sends source files to
// an execbox gateway, streams the program's output to the terminal as it is
// written (Server-Sent Events for a batch run, the /v1/runs/ws WebSocket
// for an interactive one, whose stdin and Ctrl+C go to the program) and
// maps the verdict to an exit code.
package runcli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/job"
)

// Exit codes of app run besides the program's own (0 to 199, 128+N when a
// signal N ended it).
const (
	ExitCompilationError = 200
	ExitTimeLimit        = 201
	ExitMemoryLimit      = 202
	ExitOutputLimit      = 203
	ExitWrongAnswer      = 204
	ExitCanceled         = 205
	ExitInternalError    = 206
	// ExitClient: the run did not happen (bad arguments, server refused or
	// unreachable).
	ExitClient = 207
)

// ExitCode maps a verdict and the run's exit code to app run's exit code.
func ExitCode(status job.Status, programExit int) int {
	switch status {
	case job.StatusAccepted, job.StatusRuntimeError:
		return programExit
	case job.StatusCompilationError:
		return ExitCompilationError
	case job.StatusTimeLimit:
		return ExitTimeLimit
	case job.StatusMemoryLimit:
		return ExitMemoryLimit
	case job.StatusOutputLimit:
		return ExitOutputLimit
	case job.StatusWrongAnswer:
		return ExitWrongAnswer
	case job.StatusCanceled:
		return ExitCanceled
	}
	return ExitInternalError
}

// Config is what app run's flags set.
type Config struct {
	Server   string // base URL, e.g. http://localhost:8085
	APIKey   string
	Language string // empty: from the main file's extension
	Version  string
	// StdinFile is the file sent as stdin ("-": the terminal's).
	StdinFile   string
	Interactive bool
}

// DefaultConfig is app run's defaults.
func DefaultConfig() Config { return Config{Server: "http://localhost:8085"} }

// RegisterFlags binds app run's flags to c.
func (c *Config) RegisterFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	fs.String(&c.Server, "server", "EXECBOX_SERVER", d.Server, "execbox gateway to run on")
	fs.Secret(&c.APIKey, "api-key", "EXECBOX_API_KEY", d.APIKey, "API key (sent as Authorization: Bearer)")
	fs.String(&c.Language, "language", "EXECBOX_LANGUAGE", d.Language, "language id (default: from the first file's extension)")
	fs.String(&c.Version, "language-version", "EXECBOX_LANGUAGE_VERSION", d.Version, "language version (default: the server's)")
	fs.String(&c.StdinFile, "stdin", "EXECBOX_STDIN", d.StdinFile, "file to send as the program's stdin (- for this terminal's)")
	fs.Bool(&c.Interactive, "interactive", "EXECBOX_INTERACTIVE", d.Interactive, "interactive run: this terminal's stdin goes to the program while it runs, Ctrl+C sends it SIGINT")
}

// Options is one app run.
type Options struct {
	Config
	Files []string // the first is the entry point
	Args  []string
	// Stdin is the program's stdin for a batch run (nil: none); an
	// interactive run reads it as the program runs.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Interrupt delivers the user's Ctrl+C: sent to an interactive program
	// as SIGINT; a batch run is canceled.
	Interrupt <-chan os.Signal
	HTTP      *http.Client
}

// wireFile is a file of the native API.
type wireFile struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// Run runs the program and returns app run's exit code. An error means the
// run did not happen (the exit code is then ExitClient).
func Run(ctx context.Context, o Options) (int, error) {
	if len(o.Files) == 0 {
		return ExitClient, errors.New("no source file given")
	}
	files := make([]wireFile, len(o.Files))
	for i, f := range o.Files {
		b, err := os.ReadFile(f)
		if err != nil {
			return ExitClient, err
		}
		files[i] = wireFile{Name: filepath.Base(f), Content: string(b)}
	}
	lang := o.Language
	if lang == "" {
		var err error
		if lang, err = guessLanguage(o.Files[0]); err != nil {
			return ExitClient, err
		}
	}
	if o.HTTP == nil {
		o.HTTP = http.DefaultClient
	}
	o.Server = strings.TrimRight(o.Server, "/")
	if o.Interactive {
		return runInteractive(ctx, o, lang, files)
	}
	return runBatch(ctx, o, lang, files)
}

// guessLanguage picks the catalog language whose source file has the
// file's extension: the one named like the extension ("py": python) when
// several have it, else the first.
func guessLanguage(name string) (string, error) {
	cat, err := catalog.LoadOrDefault("")
	if err != nil {
		return "", err
	}
	ext := filepath.Ext(name)
	first := ""
	for _, l := range cat.All() {
		if ext == "" || filepath.Ext(l.SourceFile) != ext {
			continue
		}
		if first == "" {
			first = l.ID
		}
		for _, n := range append([]string{l.ID}, l.Aliases...) {
			if n == ext[1:] {
				return l.ID, nil
			}
		}
	}
	if first != "" {
		return first, nil
	}
	return "", fmt.Errorf("cannot tell the language of %s from its extension: give --language", name)
}

func (o Options) request(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, o.Server+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	return o.HTTP.Do(req)
}

// problem reads an error answer.
func problem(resp *http.Response) error {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(b, &p) != nil || (p.Title == "" && p.Detail == "") {
		return fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	msg := fmt.Sprintf("server answered %s: %s", resp.Status, p.Detail)
	for _, e := range p.Errors {
		msg += fmt.Sprintf("; %s: %s", e.Field, e.Message)
	}
	return errors.New(msg)
}

// submission is the part of the native submission app run reads.
type submission struct {
	ID     string      `json:"id"`
	Status job.Status  `json:"status"`
	Result *job.Result `json:"result"`
}

// report prints the verdict (when not plainly the program's own exit) on
// stderr and returns the exit code.
func (o Options) report(s submission) int {
	res := s.Result
	if res == nil {
		res = &job.Result{Status: s.Status}
	}
	exit := 0
	if run := res.Run; run != nil {
		exit = run.ExitCode
	}
	if s.Status != job.StatusAccepted && s.Status != job.StatusRuntimeError || (res.Run != nil && res.Run.Signal != "") {
		msg := res.Message
		if msg == "" && res.Run != nil {
			msg = res.Run.Message
		}
		fmt.Fprintf(o.Stderr, "app run: %s", s.Status)
		if msg != "" {
			fmt.Fprintf(o.Stderr, ": %s", msg)
		}
		fmt.Fprintln(o.Stderr)
	}
	return ExitCode(s.Status, exit)
}

func runBatch(ctx context.Context, o Options, lang string, files []wireFile) (int, error) {
	body := map[string]any{"language": lang, "files": files}
	if o.Version != "" {
		body["version"] = o.Version
	}
	if len(o.Args) > 0 {
		body["args"] = o.Args
	}
	if o.Stdin != nil {
		b, err := io.ReadAll(o.Stdin)
		if err != nil {
			return ExitClient, fmt.Errorf("read stdin: %w", err)
		}
		body["stdin"] = string(b)
	}
	resp, err := o.request(ctx, http.MethodPost, "/v1/submissions", body)
	if err != nil {
		return ExitClient, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return ExitClient, problem(resp)
	}
	var created submission
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil {
		return ExitClient, fmt.Errorf("read the answer: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-o.Interrupt:
			cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer ccancel()
			if r, err := o.request(cctx, http.MethodDelete, "/v1/submissions/"+created.ID, nil); err == nil {
				r.Body.Close()
			}
		case <-ctx.Done():
		}
	}()
	for attempt := 0; ; attempt++ {
		s, err := o.follow(ctx, created.ID)
		if err == nil {
			return o.report(s), nil
		}
		if ctx.Err() != nil || attempt >= 5 {
			return ExitClient, err
		}
		time.Sleep(time.Second)
	}
}

// follow prints the output events of the submission's event stream and
// returns its final state.
func (o Options) follow(ctx context.Context, id string) (submission, error) {
	resp, err := o.request(ctx, http.MethodGet, "/v1/submissions/"+id+"/events", nil)
	if err != nil {
		return submission{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return submission{}, problem(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := []byte(strings.TrimPrefix(line, "data: "))
			switch event {
			case "output":
				var ev struct{ Stream, Data string }
				if json.Unmarshal(data, &ev) == nil {
					o.write(ev.Stream, ev.Data)
				}
			case "output_gap":
				fmt.Fprintln(o.Stderr, "app run: some output was dropped (the stream fell behind)")
			case "result":
				var s submission
				if err := json.Unmarshal(data, &s); err != nil {
					return s, fmt.Errorf("read the result: %w", err)
				}
				return s, nil
			}
		}
	}
	return submission{}, fmt.Errorf("the event stream ended before the result: %v", sc.Err())
}

func (o Options) write(stream, data string) {
	if stream == "stderr" {
		_, _ = io.WriteString(o.Stderr, data)
	} else {
		_, _ = io.WriteString(o.Stdout, data)
	}
}

// wsMessage is a message of /v1/runs/ws.
type wsMessage struct {
	Type   string           `json:"type"`
	Stream string           `json:"stream,omitempty"`
	Data   string           `json:"data,omitempty"`
	Signal string           `json:"signal,omitempty"`
	Detail string           `json:"detail,omitempty"`
	Code   string           `json:"code,omitempty"`
	Result *submission      `json:"result,omitempty"`
	Errors []map[string]any `json:"errors,omitempty"`
}

func runInteractive(ctx context.Context, o Options, lang string, files []wireFile) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := http.Header{}
	if o.APIKey != "" {
		h.Set("Authorization", "Bearer "+o.APIKey)
	}
	url := "ws" + strings.TrimPrefix(o.Server, "http") + "/v1/runs/ws"
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h, HTTPClient: o.HTTP})
	if err != nil {
		return ExitClient, err
	}
	defer func() { _ = c.CloseNow() }()
	c.SetReadLimit(64 << 20)
	send := func(m any) error {
		b, _ := json.Marshal(m)
		return c.Write(ctx, websocket.MessageText, b)
	}
	start := map[string]any{"type": "start", "language": lang, "files": files}
	if o.Version != "" {
		start["version"] = o.Version
	}
	if len(o.Args) > 0 {
		start["args"] = o.Args
	}
	if err := send(start); err != nil {
		return ExitClient, err
	}
	go func() { // the terminal's stdin, then EOF
		if o.Stdin != nil {
			buf := make([]byte, 32<<10)
			for {
				n, err := o.Stdin.Read(buf)
				if n > 0 && send(wsMessage{Type: "stdin", Data: string(buf[:n])}) != nil {
					return
				}
				if err != nil {
					break
				}
			}
		}
		_ = send(wsMessage{Type: "stdin_close"})
	}()
	go func() { // Ctrl+C goes to the program
		for {
			select {
			case <-o.Interrupt:
				_ = send(wsMessage{Type: "signal", Signal: "SIGINT"})
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return ExitClient, fmt.Errorf("the run's connection ended before its result: %w", err)
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return ExitClient, fmt.Errorf("bad message from the server: %w", err)
		}
		switch m.Type {
		case "output":
			o.write(m.Stream, m.Data)
		case "result":
			if m.Result == nil {
				return ExitClient, errors.New("result message without a result")
			}
			return o.report(*m.Result), nil
		case "error":
			msg := m.Detail
			for _, e := range m.Errors {
				msg += fmt.Sprintf("; %v: %v", e["field"], e["message"])
			}
			return ExitClient, fmt.Errorf("server refused the run (%s): %s", m.Code, msg)
		}
	}
}
