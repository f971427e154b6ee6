package queue

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
)

type metrics struct {
	enqueued     *prometheus.CounterVec
	leases       prometheus.Counter
	redeliveries prometheus.Counter
	completed    *prometheus.CounterVec
	timeInQueue  prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		enqueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "execbox_queue_enqueued_total", Help: "Enqueue calls by priority and outcome (ok, full, error).",
		}, []string{"priority", "outcome"}),
		leases: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_queue_leases_total", Help: "Jobs leased to workers (every delivery).",
		}),
		redeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "execbox_queue_redeliveries_total", Help: "Leases of a job that was delivered before (attempt > 1).",
		}),
		completed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "execbox_queue_completed_total", Help: "Completions by final status; lease_lost counts stale completions.",
		}, []string{"status"}),
		timeInQueue: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "execbox_queue_time_in_queue_seconds", Help: "Time from enqueue (or release) to lease.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300},
		}),
	}
}

// register adds the counters and a collector that reads depth, leased and
// dead letters from the queue at scrape time.
func (m *metrics) register(reg prometheus.Registerer, q queue.Queue) {
	reg.MustRegister(m.enqueued, m.leases, m.redeliveries, m.completed, m.timeInQueue, &statsCollector{q: q})
}

var (
	depthDesc  = prometheus.NewDesc("execbox_queue_depth", "Jobs waiting in the queue by priority.", []string{"priority"}, nil)
	leasedDesc = prometheus.NewDesc("execbox_queue_leased", "Jobs leased to workers now.", nil, nil)
	deadDesc   = prometheus.NewDesc("execbox_queue_dead_letters", "Jobs on the dead-letter list.", nil, nil)
)

type statsCollector struct{ q queue.Queue }

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthDesc
	ch <- leasedDesc
	ch <- deadDesc
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.q.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(depthDesc, err)
		return
	}
	for _, p := range job.Priorities {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(st.Depth[p]), string(p))
	}
	ch <- prometheus.MustNewConstMetric(leasedDesc, prometheus.GaugeValue, float64(st.Leased))
	ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(st.DeadLetters))
}

// instrumented counts what passes through a queue.
type instrumented struct {
	queue.Queue
	m *metrics
}

func (q *instrumented) Enqueue(ctx context.Context, req job.Request) (job.Submission, error) {
	s, err := q.Queue.Enqueue(ctx, req)
	p := req.Priority
	if p == "" {
		p = job.PriorityNormal
	}
	outcome := "ok"
	switch {
	case errors.Is(err, queue.ErrFull):
		outcome = "full"
	case err != nil:
		outcome = "error"
	}
	q.m.enqueued.WithLabelValues(string(p), outcome).Inc()
	return s, err
}

func (q *instrumented) Lease(ctx context.Context, worker string, wait time.Duration) (*queue.Lease, error) {
	l, err := q.Queue.Lease(ctx, worker, wait)
	if l != nil {
		q.m.leases.Inc()
		if l.Job.Attempt > 1 {
			q.m.redeliveries.Inc()
		}
		if !l.QueuedAt.IsZero() {
			q.m.timeInQueue.Observe(max(0, time.Since(l.QueuedAt).Seconds()))
		}
	}
	return l, err
}

func (q *instrumented) Complete(ctx context.Context, l *queue.Lease, res job.Result) error {
	err := q.Queue.Complete(ctx, l, res)
	switch {
	case err == nil:
		q.m.completed.WithLabelValues(string(res.Status)).Inc()
	case errors.Is(err, queue.ErrLeaseLost):
		q.m.completed.WithLabelValues("lease_lost").Inc()
	}
	return err
}
