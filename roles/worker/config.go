package worker

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/execbox/app/pkg/executor/executorhttp"
	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/queue/queuehttp"
	"github.com/execbox/app/pkg/registry"
)

// Config configures the worker role.
type Config struct {
	Addr string
	// HTTP bounds what clients can hold of the role's HTTP server.
	HTTP         httpx.Limits
	QueueURL     string
	ExecutorURLs []string
	// Registry, when its URL is set, is where the worker finds the
	// executors that announce themselves (besides ExecutorURLs).
	Registry registry.Config
	// InternalToken is sent to the queue and executor roles.
	InternalToken string
	// Name identifies this worker in the queue (default host-pid).
	Name string
	// Concurrency is the number of lease loops, i.e. jobs run at once.
	Concurrency int
	// LeaseWait is how long one long-poll lease request waits for a job.
	LeaseWait time.Duration
	// Heartbeat is the longest interval between lease extensions; the
	// worker also extends at least three times per lease duration.
	Heartbeat time.Duration
	// Grace is how long in-flight jobs may run after shutdown begins before
	// they are stopped and released back to the queue.
	Grace time.Duration
	// CapacityTTL is how long an executor's reported capacity is trusted.
	CapacityTTL time.Duration
	// RetryDeadline: a job that no executor could run (unreachable, 5xx,
	// sandbox not starting) goes back to the queue until it is this old,
	// then it ends as internal_error on the dead-letter list.
	RetryDeadline time.Duration
	// MaxFailures is how many internal_error results from working
	// executors a job gets before it ends with the last of them, on the
	// dead-letter list.
	MaxFailures int
	// RetryBackoff is the delay before a job handed back to the queue runs
	// again, doubled with each delivery up to RetryMaxBackoff.
	RetryBackoff    time.Duration
	RetryMaxBackoff time.Duration
}

// DefaultPort is the worker's listen port (health and metrics).
const DefaultPort = 8087

// DefaultConfig returns the defaults: New fills zero fields from it and
// the flags show it. The URLs have none here: without them a worker needs
// its dependencies passed in (app all, tests).
func DefaultConfig() Config {
	return Config{
		Concurrency: 2,
		LeaseWait:   20 * time.Second,
		Heartbeat:   time.Second,
		Grace:       30 * time.Second,
		CapacityTTL: 500 * time.Millisecond,

		RetryDeadline:   10 * time.Minute,
		MaxFailures:     3,
		RetryBackoff:    time.Second,
		RetryMaxBackoff: 30 * time.Second,
	}
}

// RegisterFlags binds the worker's tunables (app all binds them too).
func (c *Config) RegisterFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	fs.String(&c.Name, "name", "EXECBOX_WORKER_NAME", d.Name, "worker name in the queue (default host-pid)")
	fs.Int(&c.Concurrency, "concurrency", "EXECBOX_CONCURRENCY", d.Concurrency, "jobs run at once (lease loops)")
	fs.Duration(&c.LeaseWait, "lease-wait", "EXECBOX_LEASE_WAIT", d.LeaseWait, "long-poll duration of one lease request")
	fs.Duration(&c.Heartbeat, "heartbeat", "EXECBOX_HEARTBEAT", d.Heartbeat, "longest interval between lease extensions (also bounds how fast a cancel reaches a running job)")
	fs.Duration(&c.Grace, "grace", "EXECBOX_GRACE", d.Grace, "on shutdown, how long in-flight jobs may finish before they are handed back")
	fs.Duration(&c.RetryDeadline, "retry-deadline", "EXECBOX_RETRY_DEADLINE", d.RetryDeadline, "a job no executor could run goes back to the queue until it is this old, then it is dead-lettered as internal_error")
	fs.Int(&c.MaxFailures, "max-failures", "EXECBOX_MAX_FAILURES", d.MaxFailures, "internal_error results from working executors before a job ends with one (dead-lettered)")
	fs.Duration(&c.RetryBackoff, "retry-backoff", "EXECBOX_RETRY_BACKOFF", d.RetryBackoff, "first delay before a job handed back to the queue runs again (doubled each delivery)")
	fs.Duration(&c.RetryMaxBackoff, "retry-max-backoff", "EXECBOX_RETRY_MAX_BACKOFF", d.RetryMaxBackoff, "longest delay before a handed-back job runs again")
}

// RegisterProcessFlags binds what only the worker's own process has: the
// URLs of the roles it calls and the token it sends them.
func (c *Config) RegisterProcessFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	queuehttp.RegisterURLFlag(fs, &c.QueueURL)
	executorhttp.RegisterURLsFlag(fs, &c.ExecutorURLs)
	c.Registry.RegisterFlags(fs, "when set, the worker also uses every executor announced there")
	fs.Secret(&c.InternalToken, "internal-token", "EXECBOX_INTERNAL_TOKEN", d.InternalToken, "bearer token for the queue and executor APIs")
}

// Validate checks the configuration (the URLs only when no dependencies are
// passed in).
func (c Config) Validate() error {
	if c.Concurrency < 0 || c.LeaseWait < 0 || c.Heartbeat < 0 || c.Grace < 0 || c.CapacityTTL < 0 ||
		c.RetryDeadline < 0 || c.MaxFailures < 0 || c.RetryBackoff < 0 || c.RetryMaxBackoff < 0 {
		return errors.New("worker: counts and durations must not be negative")
	}
	if err := c.Registry.Validate(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}

func (c *Config) defaults() {
	d := DefaultConfig()
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.LeaseWait == 0 {
		c.LeaseWait = d.LeaseWait
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = d.Heartbeat
	}
	if c.Grace == 0 {
		c.Grace = d.Grace
	}
	if c.CapacityTTL == 0 {
		c.CapacityTTL = d.CapacityTTL
	}
	if c.RetryDeadline == 0 {
		c.RetryDeadline = d.RetryDeadline
	}
	if c.MaxFailures == 0 {
		c.MaxFailures = d.MaxFailures
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = d.RetryBackoff
	}
	if c.RetryMaxBackoff == 0 {
		c.RetryMaxBackoff = d.RetryMaxBackoff
	}
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
}
