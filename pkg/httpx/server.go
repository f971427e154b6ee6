// Package httpx is the HTTP scaffolding every role shares: health, readiness
// and metrics endpoints, request ids, request logging, panic recovery,
// graceful shutdown, JSON and problem+json helpers, and a small JSON client.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one dependency is usable.
type Check func(ctx context.Context) error

// Config configures a Server.
type Config struct {
	// Addr is the listen address, e.g. "127.0.0.1:8085" or ":8085".
	Addr string
	// ShutdownTimeout bounds the drain of in-flight requests.
	ShutdownTimeout time.Duration
	// CheckTimeout bounds each readiness check.
	CheckTimeout time.Duration
	// Limits bound what clients can hold (zero fields: DefaultLimits).
	Limits
}

// Server is an HTTP server with the operational endpoints built in.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	refused  prometheus.Counter

	mu       sync.Mutex
	checks   map[string]Check
	draining atomic.Bool
	started  atomic.Bool
	listener net.Listener
	addrOnce sync.Once
	addrCh   chan string
}

// NewServer builds a server with /health, /ready and /metrics registered.
func NewServer(cfg Config, log *slog.Logger) *Server {
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 2 * time.Second
	}
	cfg.Limits = cfg.Limits.withDefaults()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{
		cfg:      cfg,
		log:      log,
		mux:      http.NewServeMux(),
		registry: reg,
		checks:   map[string]Check{},
		addrCh:   make(chan string, 1),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "execbox_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "execbox_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
	}
	s.refused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "execbox_http_connections_refused_total", Help: "Connections refused because the connection limit was reached.",
	})
	reg.MustRegister(s.requests, s.latency, s.refused)
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /ready", s.serveReady)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return s
}

// Registry is where roles register their metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Handle registers h for a Go 1.22 mux pattern such as "POST /v1/jobs".
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandleFunc registers f for pattern.
func (s *Server) HandleFunc(pattern string, f http.HandlerFunc) { s.mux.HandleFunc(pattern, f) }

// AddCheck adds a readiness check named for the dependency it probes
// ("redis", "postgres", "docker", "queue", ...).
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// Handler returns the server's full handler chain (for tests).
func (s *Server) Handler() http.Handler {
	return s.recover(s.observe(bodyDeadline(s.cfg.BodyTimeout, http.HandlerFunc(s.route))))
}

// route serves the request through the mux, but answers an unknown path
// (404) or method (405, with Allow) with problem+json like every other
// error, not the mux's plain text.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	cw := &captureWriter{header: http.Header{}}
	h.ServeHTTP(cw, r)
	if cw.status != http.StatusNotFound && cw.status != http.StatusMethodNotAllowed {
		// A redirect (trailing slash, cleaned path): pass it on as is.
		for k, v := range cw.header {
			w.Header()[k] = v
		}
		w.WriteHeader(cw.status)
		return
	}
	if allow := cw.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	p := Problem{Status: cw.status, Code: "not_found", Detail: "no such endpoint: " + r.Method + " " + r.URL.Path}
	if cw.status == http.StatusMethodNotAllowed {
		p.Code, p.Detail = "method_not_allowed", r.Method+" is not allowed here; allowed: "+cw.header.Get("Allow")
	}
	WriteProblem(w, r, p)
}

// captureWriter records what the mux's fallback handlers answer.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(b), nil
}
func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

// Addr blocks until the server listens and returns its address.
func (s *Server) Addr(ctx context.Context) (string, error) {
	select {
	case a := <-s.addrCh:
		s.addrCh <- a
		return a, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// ReadyStatus is the body of /ready.
type ReadyStatus struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	// Failing names the dependencies that are down.
	Failing []string `json:"failing,omitempty"`
}

// CheckReady runs every readiness check concurrently.
func (s *Server) CheckReady(ctx context.Context) ReadyStatus {
	s.mu.Lock()
	checks := make(map[string]Check, len(s.checks))
	for k, v := range s.checks {
		checks[k] = v
	}
	s.mu.Unlock()
	st := ReadyStatus{Status: "ready", Checks: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, s.cfg.CheckTimeout)
			defer cancel()
			res := "ok"
			if err := c(cctx); err != nil {
				res = err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			st.Checks[name] = res
			if res != "ok" {
				st.Failing = append(st.Failing, name)
			}
		}()
	}
	wg.Wait()
	sort.Strings(st.Failing)
	if s.draining.Load() {
		st.Status = "draining"
	} else if len(st.Failing) > 0 {
		st.Status = "unavailable"
	}
	return st
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	st := s.CheckReady(r.Context())
	code := http.StatusOK
	if st.Status != "ready" {
		code = http.StatusServiceUnavailable
	}
	WriteJSON(w, code, st)
}

// Run listens and serves until ctx ends, then stops accepting connections,
// reports not-ready, and drains in-flight requests up to ShutdownTimeout.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Addr, err)
	}
	s.addrOnce.Do(func() { s.addrCh <- ln.Addr().String() })
	ln = newLimitListener(ln, s.cfg.MaxConns, s.refused.Inc)
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shutdown: %w", err)
		}
		s.log.Warn("shutdown timed out, closed remaining connections")
	}
	return nil
}

// WriteJSON writes v as a JSON response.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
