package storage

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	written     prometheus.Counter
	acked       prometheus.Counter
	dropped     prometheus.Counter
	deleted     prometheus.Counter
	writeErrors prometheus.Counter
	readErrors  prometheus.Counter
	batch       prometheus.Histogram
	latency     prometheus.Histogram
	lag         prometheus.Gauge
}

func newMetrics() *metrics {
	return &metrics{
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_storage_results_written_total", Help: "Results written to the store (replays included).",
		}),
		acked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_storage_results_acked_total", Help: "Results acknowledged on the results feed after commit.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_storage_results_dropped_total", Help: "Results rejected by the store as invalid and dropped.",
		}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_storage_retention_deleted_total", Help: "Results deleted by retention.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_storage_write_errors_total", Help: "Failed batch writes (each is retried).",
		}),
		readErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_storage_feed_errors_total", Help: "Failed reads of the results feed (each is retried).",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "execbox_storage_batch_size", Help: "Results per committed write.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000},
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "execbox_storage_write_seconds", Help: "Latency of one committed batch write.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "execbox_storage_consumer_lag_seconds",
			Help: "Age of the oldest result in the last written batch (0 when the feed is drained).",
		}),
	}
}

func (m *metrics) register(reg prometheus.Registerer) {
	reg.MustRegister(m.written, m.acked, m.dropped, m.deleted, m.writeErrors, m.readErrors, m.batch, m.latency, m.lag)
}

func (m *metrics) observeWrite(n int, d time.Duration) {
	m.written.Add(float64(n))
	m.batch.Observe(float64(n))
	m.latency.Observe(d.Seconds())
}
