package httpx

import (
	"context"
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
