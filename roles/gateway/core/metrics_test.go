package core_test

import (
	"testing"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/roles/gateway"
	"github.com/execbox/app/roles/gateway/core"
	"github.com/execbox/app/roles/gateway/internal/gatewaytest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	lim := core.NewMemoryLimiter(0.001, 3, 10, nil)
	b := gatewaytest.Setup(t, func(c *gateway.Config, d *gateway.Deps) { c.RateLimit = 0.001; c.RateBurst = 3; d.Limiter = lim })
	srv := httpx.NewServer(httpx.Config{Addr: "127.0.0.1:0"}, gatewaytest.Logger(t))
	b.Role.Register(srv)
	reg := srv.Registry()
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", map[string]any{"language": "python", "source": "1"}), 201)
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/submissions", map[string]any{"language_id": 50, "source_code": "int main(){}"}), 201)
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", map[string]any{"language": "brainfuck", "source": "1"}), 400)
	gatewaytest.WantStatus(t, b.Do(t, "POST", "/v1/submissions", `{"language":`), 429)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"execbox_gateway_submissions_total", map[string]string{"language": "python", "api": "native"}, 1},
		{"execbox_gateway_submissions_total", map[string]string{"language": "c", "api": "judge0"}, 1},
		{"execbox_gateway_rejected_total", map[string]string{"reason": "invalid_request"}, 1},
		{"execbox_gateway_rejected_total", map[string]string{"reason": "rate_limited"}, 1},
		{"execbox_gateway_rate_limited_total", map[string]string{"api": "native"}, 1},
	} {
		if got := counter(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %g, want %g", tc.name, tc.labels, got, tc.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "execbox_gateway_submissions_total"); err != nil || n != 2 {
		t.Errorf("registered submissions series: %d %v", n, err)
	}
}

// counter is the value of the counter name with exactly labels in reg (0
// when there is none).
func counter(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
