package core

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	submissions *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	callbacks   *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "execbox_gateway_submissions_total", Help: "Submissions accepted, by language and API (native, judge0, piston).",
		}, []string{"language", "api"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "execbox_gateway_rejected_total", Help: "Requests refused, by reason.",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "execbox_gateway_rate_limited_total", Help: "Requests refused by the per-key rate limit, by API.",
		}, []string{"api"}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "execbox_gateway_callbacks_total", Help: "Callback deliveries by outcome (delivered, failed, abandoned).",
		}, []string{"outcome"}),
	}
}

func (m *metrics) register(reg prometheus.Registerer) {
	reg.MustRegister(m.submissions, m.rejected, m.rateLimited, m.callbacks)
}
