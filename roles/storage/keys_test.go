package storage

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/sqlitestore"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/pkg/store/storehttp"
	"github.com/execbox/app/pkg/store/storetest"
)

func keyClient(t *testing.T, s store.Store) *storehttp.Client {
	t.Helper()
	c, _ := keyServer(t, s)
	return c
}

// keyServer serves the role's handler on s and returns a client of it and
// the test server.
func keyServer(t *testing.T, s store.Store) (*storehttp.Client, *httptest.Server) {
	t.Helper()
	r, err := New(Config{InternalToken: "secret"}, discard, Deps{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)
	return storehttp.NewClient(srv.URL, srv.Client()).WithToken("secret"), srv
}

// TestClientKeysContract runs the key contract through the HTTP client
// against the role's handler, over PostgreSQL and over SQLite.
func TestClientKeysContract(t *testing.T) {
	t.Parallel()
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		storetest.RunKeys(t, func(t *testing.T) store.KeyStore { return keyClient(t, pgStore(t)) })
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		storetest.RunKeys(t, func(t *testing.T) store.KeyStore {
			s, err := sqlitestore.Open(testCtx(t, time.Minute), filepath.Join(t.TempDir(), "k.db"), discard, sqlitestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return keyClient(t, s)
		})
	})
}

// noKeys hides the key methods of a store.
type noKeys struct{ store.Store }

func TestKeysAPIRejects(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 30*time.Second)
	s := pgStore(t)
	withKeys, keySrv := keyServer(t, s)
	hexHash := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	tests := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"lookup short hash", "GET", "/storage/v1/keys/abc", "", 400, "sha256"},
		{"lookup not hex", "GET", "/storage/v1/keys/" + string(bytes.Repeat([]byte("zz"), 32)), "", 400, "sha256"},
		{"lookup unknown", "GET", "/storage/v1/keys/" + hexHash, "", 404, ""},
		{"create without hash", "POST", "/storage/v1/keys", `{"id":"a"}`, 400, "sha256"},
		{"create bad id", "POST", "/storage/v1/keys", `{"id":"a b","sha256":"` + hexHash + `"}`, 400, "id"},
		{"create bad name", "POST", "/storage/v1/keys", `{"id":"a","name":"x\u0007","sha256":"` + hexHash + `"}`, 400, "name"},
		{"create unknown field", "POST", "/storage/v1/keys", `{"id":"a","secret":"x","sha256":"` + hexHash + `"}`, 400, ""},
		{"revoke unknown", "POST", "/storage/v1/keys/nobody/revoke", "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, tt.method, keySrv.URL+tt.path, bytes.NewBufferString(tt.body))
			req.Header.Set("Authorization", "Bearer secret")
			resp, err := keySrv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
			}
			if tt.field != "" {
				p := httpx.ReadProblem(resp)
				if len(p.Errors) != 1 || p.Errors[0].Field != tt.field || p.Errors[0].Message == "" {
					t.Errorf("problem = %+v, want one error naming %q", p, tt.field)
				}
			}
		})
	}
	// Nothing above was stored.
	if keys, err := withKeys.ListKeys(ctx); err != nil || len(keys) != 0 {
		t.Errorf("ListKeys = %+v, %v; want none", keys, err)
	}

	// A store without keys answers 501, which the client passes on.
	_, err := keyClient(t, noKeys{s}).ListKeys(ctx)
	var p *httpx.Problem
	if !errors.As(err, &p) || p.Status != http.StatusNotImplemented {
		t.Errorf("ListKeys on a store without keys = %v, want a 501 problem", err)
	}
}
