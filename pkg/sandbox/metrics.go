package sandbox

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/execbox/app/pkg/job"
)

type metrics struct {
	executions     *prometheus.CounterVec
	stepWall       *prometheus.HistogramVec
	stepCPU        *prometheus.HistogramVec
	poolIdle       *prometheus.GaugeVec
	poolHits       *prometheus.CounterVec
	containerStart prometheus.Histogram
	pulls          *prometheus.CounterVec
	busy           prometheus.Gauge
	rejected       prometheus.Counter
}

func newMetrics() *metrics {
	stepBuckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	return &metrics{
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "execbox_executor_executions_total", Help: "Jobs executed, by language and verdict.",
		}, []string{"language", "status"}),
		stepWall: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "execbox_executor_step_wall_seconds", Help: "Wall time of compile and run steps.", Buckets: stepBuckets,
		}, []string{"language", "step"}),
		stepCPU: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "execbox_executor_step_cpu_seconds", Help: "CPU time of compile and run steps.", Buckets: stepBuckets,
		}, []string{"language", "step"}),
		poolIdle: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "execbox_executor_pool_idle", Help: "Started, idle sandboxes in the warm pool.",
		}, []string{"language"}),
		poolHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "execbox_executor_pool_takes_total", Help: "Warm pool takes, by result (hit or miss).",
		}, []string{"language", "result"}),
		containerStart: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "execbox_executor_container_start_seconds", Help: "Time to create, attach and start a sandbox container.",
			Buckets: []float64{.01, .025, .05, .1, .15, .2, .3, .5, 1, 2.5, 5},
		}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "execbox_executor_image_pulls_total", Help: "Image pulls, by result.",
		}, []string{"result"}),
		busy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "execbox_executor_busy_slots", Help: "Slots running a job.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_executor_rejected_total", Help: "Jobs rejected because every slot was busy.",
		}),
	}
}

// Register adds the driver's metrics to reg.
func (d *Driver) Register(reg prometheus.Registerer) {
	m := d.metrics
	reg.MustRegister(m.executions, m.stepWall, m.stepCPU, m.poolIdle, m.poolHits, m.containerStart, m.pulls, m.busy, m.rejected)
}

func (m *metrics) observe(r job.Result) {
	m.executions.WithLabelValues(r.Language, string(r.Status)).Inc()
	obs := func(s *job.Step, step string) {
		if s == nil {
			return
		}
		m.stepWall.WithLabelValues(r.Language, step).Observe(seconds(s.WallTimeMs))
		m.stepCPU.WithLabelValues(r.Language, step).Observe(seconds(s.CPUTimeMs))
	}
	obs(r.Compile, "compile")
	if len(r.Tests) > 0 {
		for i := range r.Tests {
			obs(&r.Tests[i], "run")
		}
	} else {
		obs(r.Run, "run")
	}
}
