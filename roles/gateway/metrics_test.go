package gateway

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	lim := NewMemoryLimiter(0.001, 3, 10)
	b := setup(t, func(c *Config, d *Deps) { c.RateLimit = 0.001; c.RateBurst = 3; d.Limiter = lim })
	reg := prometheus.NewRegistry()
	b.role.metrics.register(reg)
	wantStatus(t, b.do(t, "POST", "/v1/submissions", map[string]any{"language": "python", "source": "1"}), 201)
	wantStatus(t, b.do(t, "POST", "/submissions", map[string]any{"language_id": 50, "source_code": "int main(){}"}), 201)
	wantStatus(t, b.do(t, "POST", "/v1/submissions", map[string]any{"language": "cobol", "source": "1"}), 400)
	wantStatus(t, b.do(t, "POST", "/v1/submissions", `{"language":`), 429)
	m := b.role.metrics
	for _, tc := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{m.submissions.WithLabelValues("python", "native"), 1},
		{m.submissions.WithLabelValues("c", "judge0"), 1},
		{m.rejected.WithLabelValues("invalid_request"), 1},
		{m.rejected.WithLabelValues("rate_limited"), 1},
		{m.rateLimited.WithLabelValues("native"), 1},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("%v = %g, want %g", tc.c, got, tc.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "execbox_gateway_submissions_total"); err != nil || n != 2 {
		t.Errorf("registered submissions series: %d %v", n, err)
	}
}
