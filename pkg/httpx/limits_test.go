package httpx

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startServer runs s on a loopback port until the test ends.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	addr, err := s.Addr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestTrickledBodyIsCutOff: a client that sends its headers and then a byte
// of body now and then is answered 408 and cut off when the body timeout
// runs out, while a long response that only writes keeps its connection.
func TestTrickledBodyIsCutOff(t *testing.T) {
	t.Parallel()
	s := NewServer(Config{Addr: "127.0.0.1:0", Limits: Limits{BodyTimeout: 300 * time.Millisecond}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.HandleFunc("POST /v1/things", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := DecodeJSON(w, r, &v, 1<<20); err != nil {
			WriteProblem(w, r, *err.(*Problem))
			return
		}
		WriteJSON(w, 200, v)
	})
	// A stream that writes for longer than the body timeout (as SSE does).
	s.HandleFunc("POST /v1/stream", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rc := http.NewResponseController(w)
		for i := range 5 {
			if _, err := io.WriteString(w, strings.Repeat("x", i+1)+"\n"); err != nil {
				return
			}
			_ = rc.Flush()
			time.Sleep(150 * time.Millisecond)
		}
	})
	addr := startServer(t, s)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "POST /v1/things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte every 100 ms: each read is quick, the body never ends
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := io.WriteString(c, " "); err != nil {
					return
				}
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to the trickled body: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("trickled body: %s, want 408", resp.Status)
	}

	resp, err = http.Post("http://"+addr+"/v1/stream", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || strings.Count(string(b), "\n") != 5 {
		t.Errorf("long response cut: %q, %v", b, err)
	}
}

// TestConnectionCap: beyond MaxConns open connections a new one is answered
// 503 and closed; once one closes, a new connection is served again.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	s := NewServer(Config{Addr: "127.0.0.1:0", Limits: Limits{MaxConns: 2}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	addr := startServer(t, s)
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		defer c.Close()
		// A served request proves the connection holds a slot.
		_, _ = io.WriteString(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("held connection: %v %v", resp, err)
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("excess connection: %v", err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("excess connection: %s, want 503 with Retry-After", resp.Status)
	}

	held[0].Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if err == nil {
			resp.Body.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection served after one closed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
