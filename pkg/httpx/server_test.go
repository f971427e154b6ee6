package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestUnknownRoutesAnswerProblems(t *testing.T) {
	t.Parallel()
	s := NewServer(Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.HandleFunc("POST /v1/things", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 201, map[string]string{"ok": "1"}) })
	s.HandleFunc("GET /v1/dir/", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, nil) })
	h := s.Handler()
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
		problem      bool
	}{
		{"POST", "/v1/things", 201, "", false},
		{"GET", "/v1/nothing", 404, "", true},
		{"PUT", "/v1/things", 405, "POST", true},
		{"GET", "/v1/dir", http.StatusTemporaryRedirect, "", false},
		{"GET", "/health", 200, "", false},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader("{}")))
		if rec.Code != tc.status {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			continue
		}
		if tc.allow != "" && !strings.Contains(rec.Header().Get("Allow"), tc.allow) {
			t.Errorf("%s %s: Allow = %q, want %q", tc.method, tc.path, rec.Header().Get("Allow"), tc.allow)
		}
		if ct := rec.Header().Get("Content-Type"); (ct == "application/problem+json") != tc.problem {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.path, ct)
		}
		if tc.problem {
			var p Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != tc.status || p.RequestID == "" {
				t.Errorf("%s %s: problem %+v, %v", tc.method, tc.path, p, err)
			}
		}
	}
}

func TestReadyNamesFailingCheck(t *testing.T) {
	t.Parallel()
	s := NewServer(Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.AddCheck("redis", func(ctx context.Context) error { return errors.New("connection refused") })
	s.AddCheck("docker", func(ctx context.Context) error { return nil })
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/ready", nil))
	var st ReadyStatus
	_ = json.Unmarshal(rec.Body.Bytes(), &st)
	if rec.Code != 503 || len(st.Failing) != 1 || st.Failing[0] != "redis" || st.Checks["docker"] != "ok" {
		t.Fatalf("/ready = %d %+v", rec.Code, st)
	}
	if rec.Header().Get(RequestIDHeader) == "" {
		t.Error("no request id echoed")
	}
}
