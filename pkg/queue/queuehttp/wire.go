// Package queuehttp is the queue contract (pkg/queue) over HTTP: the wire
// types and error codes of the queue role's internal API under /queue/v1,
// shared by the server (roles/queue) and Client, which gateways and workers
// use without depending on the queue's implementations.
package queuehttp

import (
	"strconv"
	"time"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/job"
)

// DefaultPort is the queue role's listen port.
const DefaultPort = 8086

// DefaultURL is the queue role's URL on this host.
func DefaultURL() string { return "http://127.0.0.1:" + strconv.Itoa(DefaultPort) }

// RegisterURLFlag binds --queue-url, where gateways and workers find the
// queue role.
func RegisterURLFlag(fs *flagenv.Set, url *string) {
	fs.String(url, "queue-url", "EXECBOX_QUEUE_URL", DefaultURL(), "queue role URL")
}

// MaxBody bounds request bodies (a request's sources, a result's outputs).
const MaxBody = 16 << 20

// LeaseRequest asks for a job, waiting up to WaitMs for one.
type LeaseRequest struct {
	Worker string `json:"worker"`
	WaitMs int64  `json:"wait_ms"`
}

// LeaseRef names a lease: the job id and the delivery's token.
type LeaseRef struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

// CompleteRequest reports a leased job's result.
type CompleteRequest struct {
	ID     string     `json:"id"`
	Token  string     `json:"token"`
	Result job.Result `json:"result"`
}

// RetryRequest hands a leased job back to run again after AfterMs.
type RetryRequest struct {
	ID      string      `json:"id"`
	Token   string      `json:"token"`
	Attempt job.Attempt `json:"attempt"`
	AfterMs int64       `json:"after_ms"`
}

// FailRequest ends a leased job and dead-letters it.
type FailRequest struct {
	ID      string      `json:"id"`
	Token   string      `json:"token"`
	Attempt job.Attempt `json:"attempt"`
	Result  job.Result  `json:"result"`
}

// FeedReadRequest reads up to Max items of a feed as Consumer, waiting up
// to BlockMs for one.
type FeedReadRequest struct {
	Consumer string `json:"consumer"`
	Max      int    `json:"max"`
	BlockMs  int64  `json:"block_ms"`
	// Resume: first the items this consumer read before and never
	// acknowledged (it restarted).
	Resume bool `json:"resume,omitempty"`
}

// FeedAckRequest acknowledges feed items.
type FeedAckRequest struct {
	IDs []string `json:"ids"`
}

// ExtendResponse is a heartbeat's answer: the lease's new expiry.
type ExtendResponse struct {
	ExpiresAt time.Time `json:"expires_at"`
}
