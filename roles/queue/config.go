package queue

import (
	"errors"
	"fmt"
	"time"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/queue/queuehttp"
	"github.com/execbox/app/pkg/redisq"
)

// Config configures the queue role.
type Config struct {
	// Addr is the HTTP listen address of the internal API.
	Addr string
	// HTTP bounds what clients can hold of the role's HTTP server.
	HTTP httpx.Limits
	// RedisURL locates Redis ("redis://host:6379/0"). Empty means the
	// in-process queue (app all on its embedded defaults).
	RedisURL string
	// RedisPrefix starts every Redis key (default redisq.DefaultPrefix).
	RedisPrefix string
	// RedisPoolSize bounds Redis connections; each waiting long-poll lease
	// holds none (they wait on one shared subscription).
	RedisPoolSize int
	// InternalToken guards /queue/v1 (bearer token); empty leaves it open, which
	// Run allows only on loopback or with InsecureNoToken.
	InternalToken string
	// InsecureNoToken serves the internal API open on a non-loopback
	// address anyway (role.InternalAPI.AllowOpen).
	InsecureNoToken bool
	// Visibility is the lease duration; workers heartbeat well within it.
	Visibility time.Duration
	// MaxDeliveries is how many expired deliveries dead-letter a job.
	MaxDeliveries int
	// MaxLength caps the number of queued jobs (0: unlimited); beyond it
	// Enqueue fails with queue_full (503, Retry-After).
	MaxLength int64
	// ResultTTL is how long finished submissions stay readable in the queue.
	ResultTTL time.Duration
	// MaxLeaseWait caps a long-poll lease request.
	MaxLeaseWait time.Duration
	// WaitReplicas, when positive, answers a state change only after that
	// many Redis replicas acknowledged it (WAIT), within WaitTimeout.
	WaitReplicas int
	// WaitTimeout bounds one WAIT.
	WaitTimeout time.Duration
}

// DefaultPort is the queue role's listen port.
const DefaultPort = queuehttp.DefaultPort

// DefaultConfig returns the defaults the flags show; the queue semantics
// come from queue.DefaultSettings, which the implementations apply too.
func DefaultConfig() Config {
	s := queue.DefaultSettings()
	return Config{
		RedisPrefix:   redisq.DefaultPrefix,
		RedisPoolSize: 32,
		Visibility:    s.Visibility,
		MaxDeliveries: s.MaxDeliveries,
		MaxLength:     s.MaxLength,
		ResultTTL:     s.ResultTTL,
		MaxLeaseWait:  30 * time.Second,
		WaitTimeout:   time.Second,
	}
}

// RegisterFlags binds the queue's tunables (app all binds them too).
func (c *Config) RegisterFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	redisq.RegisterFlags(fs, &c.RedisURL, &c.RedisPrefix)
	fs.Int(&c.RedisPoolSize, "redis-pool-size", "EXECBOX_REDIS_POOL_SIZE", d.RedisPoolSize, "most Redis connections of the queue")
	fs.Duration(&c.Visibility, "visibility", "EXECBOX_QUEUE_VISIBILITY", d.Visibility, "lease duration: a job whose worker stops heartbeating is delivered again after it")
	fs.Int(&c.MaxDeliveries, "max-deliveries", "EXECBOX_QUEUE_MAX_DELIVERIES", d.MaxDeliveries, "expired deliveries before a job ends as internal_error on the dead-letter list")
	fs.Int64(&c.MaxLength, "max-length", "EXECBOX_QUEUE_MAX_LENGTH", d.MaxLength, "most queued jobs; beyond it submissions get 503 with Retry-After (0: unlimited)")
	fs.Duration(&c.ResultTTL, "result-ttl", "EXECBOX_QUEUE_RESULT_TTL", d.ResultTTL, "how long finished submissions stay in the queue (storage keeps them for good)")
	fs.Duration(&c.MaxLeaseWait, "max-lease-wait", "EXECBOX_QUEUE_MAX_LEASE_WAIT", d.MaxLeaseWait, "longest long-poll lease request")
	fs.Int(&c.WaitReplicas, "redis-wait-replicas", "EXECBOX_REDIS_WAIT_REPLICAS", d.WaitReplicas, "answer a queue change only once this many Redis replicas have it (WAIT; bounds what a failover loses; 0: off)")
	fs.Duration(&c.WaitTimeout, "redis-wait-timeout", "EXECBOX_REDIS_WAIT_TIMEOUT", d.WaitTimeout, "longest WAIT for --redis-wait-replicas; past it the change fails and the caller retries")
}

// RegisterProcessFlags binds what only the queue's own process has.
func (c *Config) RegisterProcessFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	fs.Secret(&c.InternalToken, "internal-token", "EXECBOX_INTERNAL_TOKEN", d.InternalToken, "bearer token guarding /queue/v1 (required unless it listens on loopback)")
	fs.Bool(&c.InsecureNoToken, "insecure-no-token", "EXECBOX_INSECURE_NO_TOKEN", d.InsecureNoToken, "serve /queue/v1 without a token on a non-loopback address (anyone who reaches it can forge results and run code)")
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.RedisURL != "" {
		if err := redisq.CheckURL(c.RedisURL); err != nil {
			return fmt.Errorf("queue: --redis-url: %w", err)
		}
	}
	if c.Visibility < 0 || c.MaxDeliveries < 0 || c.MaxLength < 0 || c.ResultTTL < 0 || c.MaxLeaseWait < 0 || c.WaitReplicas < 0 || c.WaitTimeout < 0 {
		return errors.New("queue: durations and limits must not be negative")
	}
	if c.Visibility > 0 && c.Visibility < 300*time.Millisecond {
		return errors.New("queue: --visibility must be at least 300ms (workers heartbeat every third of it)")
	}
	return nil
}
