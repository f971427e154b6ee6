package worker

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	jobs            *prometheus.CounterVec
	inFlight        prometheus.Gauge
	duration        prometheus.Histogram
	busy            prometheus.Counter
	leaseErrors     prometheus.Counter
	heartbeatErrors prometheus.Counter
	execErrors      prometheus.Counter
	paused          prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "execbox_worker_jobs_total",
			Help: "Leased jobs by outcome: completed, canceled, lease_lost, stale_result, released, failed (not reported), retried_executor_unavailable, retried_failed, dead_lettered.",
		}, []string{"outcome"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "execbox_worker_in_flight", Help: "Jobs this worker runs now.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "execbox_worker_job_duration_seconds", Help: "From lease to completion.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_worker_executor_busy_total", Help: "Executor answers of busy (429), each followed by a back-off.",
		}),
		leaseErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_worker_lease_errors_total", Help: "Failed lease requests (queue unreachable).",
		}),
		heartbeatErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_worker_heartbeat_errors_total", Help: "Failed lease extensions other than canceled or lease lost.",
		}),
		execErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_worker_executor_errors_total", Help: "Executor calls that failed other than busy (unreachable, 5xx, sandbox not starting).",
		}),
		paused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_worker_paused_total", Help: "Times a lease loop stopped leasing because no executor was healthy.",
		}),
	}
}

func (m *metrics) register(reg prometheus.Registerer) {
	reg.MustRegister(m.jobs, m.inFlight, m.duration, m.busy, m.leaseErrors, m.heartbeatErrors, m.execErrors, m.paused)
}
