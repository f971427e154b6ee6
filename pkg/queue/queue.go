// Package queue defines the job queue contract shared by the Redis queue
// (pkg/redisq), the in-process queue (pkg/memq) and the queue role's HTTP
// client (roles/queue). The contract suite in pkg/queue/queuetest runs
// against every implementation.
package queue

import (
	"context"
	"errors"
	"time"

	"github.com/execbox/app/pkg/job"
)

var (
	// ErrNotFound: no submission with that id.
	ErrNotFound = errors.New("submission not found")
	// ErrFull: the queue holds its maximum number of waiting jobs; retry later.
	ErrFull = errors.New("queue is full")
	// ErrLeaseLost: the lease expired or was taken over by a newer attempt;
	// the holder must stop and must not report a result.
	ErrLeaseLost = errors.New("lease lost")
	// ErrCanceled: the submission was canceled while leased; the holder must
	// stop the job. Returned by Extend.
	ErrCanceled = errors.New("submission canceled")
	// ErrFinal: the submission already has a final status.
	ErrFinal = errors.New("submission already finished")
)

// Lease is a worker's time-limited claim on one job.
type Lease struct {
	Job job.Job `json:"job"`
	// Token identifies this delivery; a completion with an old token is stale.
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	// QueuedAt is when this delivery became available (enqueue, release or
	// re-queue time), for the time-in-queue metric. Zero if unknown.
	QueuedAt time.Time `json:"queued_at,omitzero"`
	// CreatedAt is when the submission was accepted (for the worker's
	// retry deadline). Zero if unknown.
	CreatedAt time.Time `json:"created_at,omitzero"`
	// Failures counts the earlier deliveries that failed on a working
	// executor (job.OutcomeFailed attempts given to Retry).
	Failures int `json:"failures,omitempty"`
}

// Stats describes the queue's current load.
type Stats struct {
	Depth  map[job.Priority]int64 `json:"depth"`
	Leased int64                  `json:"leased"`
	// Delayed counts jobs handed back by Retry that wait for their back-off.
	Delayed     int64 `json:"delayed"`
	DeadLetters int64 `json:"dead_letters"`
	// MaxLength is the most queued jobs the queue accepts (0: unlimited).
	MaxLength int64 `json:"max_length,omitempty"`
}

// Queue is the job queue. Every method is safe for concurrent use.
type Queue interface {
	// Enqueue accepts a request and returns its submission (status queued).
	// A request whose IdempotencyKey was seen before returns the earlier
	// submission and is not queued again. Returns ErrFull when full.
	Enqueue(ctx context.Context, req job.Request) (job.Submission, error)
	// Get returns the submission while the queue still holds it (in flight or
	// recently finished). ErrNotFound otherwise.
	Get(ctx context.Context, id string) (job.Submission, error)
	// Lease waits up to wait for a job (high priority first, without starving
	// low). It returns (nil, nil) when none arrived in time.
	Lease(ctx context.Context, worker string, wait time.Duration) (*Lease, error)
	// Extend renews a lease. ErrLeaseLost if it expired or was superseded,
	// ErrCanceled if the submission was canceled meanwhile.
	Extend(ctx context.Context, l *Lease) error
	// Complete stores the final result of a leased job and wakes its waiters.
	// ErrLeaseLost if the lease is stale: a newer attempt owns the job.
	Complete(ctx context.Context, l *Lease, res job.Result) error
	// Release hands a leased job back to the queue without counting it as a
	// failed delivery (a worker shutting down).
	Release(ctx context.Context, l *Lease) error
	// Retry hands a leased job back to run again no sooner than after,
	// appending a to its history. It does not count as an expired delivery;
	// an attempt with outcome job.OutcomeFailed counts in Lease.Failures.
	// Canceled, lease-lost: as Extend.
	Retry(ctx context.Context, l *Lease, a job.Attempt, after time.Duration) error
	// Fail ends a leased job with res (internal_error), appends a to its
	// history and puts it on the dead-letter list, where Requeue can take it
	// back.
	Fail(ctx context.Context, l *Lease, a job.Attempt, res job.Result) error
	// Cancel cancels a queued or running submission. ErrFinal if it already
	// finished; the returned submission has its current status.
	Cancel(ctx context.Context, id string) (job.Submission, error)
	// Watch sends the submission every time its status changes, starting with
	// the current state, and closes the channel after the final status or
	// when ctx ends. ErrNotFound if unknown.
	Watch(ctx context.Context, id string) (<-chan job.Submission, error)
	// DeadLetters lists jobs that failed MaxDeliveries times or were
	// given up by Fail.
	DeadLetters(ctx context.Context) ([]job.Submission, error)
	// Requeue puts a dead-lettered job back in the queue.
	Requeue(ctx context.Context, id string) error
	Stats(ctx context.Context) (Stats, error)
	CallbackFeed
}

// CallbackFeed is the durable list of callbacks to deliver: one item per
// submission with a callback_url that reached a final status. Delivery is
// at-least-once, as ResultFeed's: an item read but not acknowledged goes
// to another consumer after the feed's redelivery time, or at once to the
// same consumer name when it reads with resume (its first read after a
// restart). Items carry only the submission's id.
type CallbackFeed interface {
	ReadCallbacks(ctx context.Context, consumer string, max int, block time.Duration, resume bool) ([]FeedItem, error)
	AckCallbacks(ctx context.Context, ids ...string) error
	// RecordCallback stores the callback's delivery state with the
	// submission (ErrNotFound once the queue no longer holds it).
	RecordCallback(ctx context.Context, id string, st job.CallbackState) error
}

// Wait blocks until the submission is final or ctx ends, returning its
// latest known state.
func Wait(ctx context.Context, q Queue, id string) (job.Submission, error) {
	ch, err := q.Watch(ctx, id)
	if err != nil {
		return job.Submission{}, err
	}
	var last job.Submission
	for s := range ch {
		last = s
	}
	if !last.Status.Final() {
		if err := ctx.Err(); err != nil {
			return last, err
		}
	}
	return last, nil
}

// FeedItem is one finished submission on the results feed.
type FeedItem struct {
	// ID identifies the delivery on the feed (for Ack), not the submission.
	ID         string         `json:"id"`
	Submission job.Submission `json:"submission"`
}

// ResultFeed is the stream of finished submissions that storage consumes.
// Delivery is at-least-once: an item read but not acknowledged is delivered
// again (to the same or another consumer) after a restart.
type ResultFeed interface {
	Read(ctx context.Context, consumer string, max int, block time.Duration) ([]FeedItem, error)
	Ack(ctx context.Context, ids ...string) error
}

// Journal persists what an in-process queue must not lose across a restart:
// accepted submissions that have not finished. The embedded store implements
// it; the Redis queue does not need it.
type Journal interface {
	// Accepted records a newly queued submission.
	Accepted(ctx context.Context, s job.Submission) error
	// Unfinished returns the submissions recorded by Accepted that have no
	// final result stored yet, oldest first.
	Unfinished(ctx context.Context) ([]job.Submission, error)
}
