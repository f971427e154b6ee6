package httpx

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
)

// HealthCheck returns a readiness check that GETs base+"/health" of another
// role.
func HealthCheck(hc *http.Client, base string) Check {
	if hc == nil {
		hc = http.DefaultClient
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("%s: %w", base, err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s/health answered %s", base, resp.Status)
		}
		return nil
	}
}

// RequireToken guards an internal API with a shared bearer token; an empty
// token leaves it open (the internal network is then the only guard).
func RequireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := "Bearer " + token
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) != 1 {
			WriteProblem(w, r, Problem{Status: http.StatusUnauthorized, Title: "unauthorized", Code: "unauthorized",
				Detail: "internal API: missing or wrong bearer token (EXECBOX_INTERNAL_TOKEN)"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
