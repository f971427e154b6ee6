// Package queuehttp is the queue contract (pkg/queue) over HTTP: the wire
// types and error codes of the queue role's internal API under /queue/v1,
// shared by the server (roles/queue) and Client, which gateways and workers
// use without depending on the queue's implementations.
package queuehttp

import (
	"time"

	"github.com/execbox/app/pkg/job"
)

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

// ExtendResponse is a heartbeat's answer: the lease's new expiry.
type ExtendResponse struct {
	ExpiresAt time.Time `json:"expires_at"`
}
