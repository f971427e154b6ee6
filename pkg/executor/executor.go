// Package executor defines the contract between a worker and an executor:
// the Docker sandbox driver (pkg/sandbox) implements it in-process and the
// executor role's HTTP client (roles/executor) implements it remotely.
package executor

import (
	"context"
	"errors"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
)

// ErrBusy: every slot is taken; retry after RetryAfter.
var ErrBusy = errors.New("executor busy")

// ErrUnavailable: the executor cannot run the job now (its Docker Engine
// is down, the job's image is missing, the language is not configured
// here). The platform's failure, not the job's: workers run the job later
// or elsewhere.
var ErrUnavailable = errors.New("executor unavailable")

// BusyError carries how long to wait before retrying.
type BusyError struct{ RetryAfter time.Duration }

func (e *BusyError) Error() string { return "executor busy, retry after " + e.RetryAfter.String() }
func (e *BusyError) Unwrap() error { return ErrBusy }

// Capacity reports an executor's slots.
type Capacity struct {
	Slots int `json:"slots"`
	Busy  int `json:"busy"`
}

// Free returns the number of free slots.
func (c Capacity) Free() int { return c.Slots - c.Busy }

// Executor runs jobs in sandboxes.
type Executor interface {
	// Execute runs j to completion and returns its result. User-caused
	// failures are verdicts in the result, not errors; an error means the job
	// could not be run (ErrBusy, ErrUnavailable, or ctx ended). Cancelling
	// ctx kills the job.
	Execute(ctx context.Context, j job.Job) (job.Result, error)
	// Cancel kills the running job with that id, if any.
	Cancel(ctx context.Context, id string) error
	// Capacity reports the slots; an error means the executor cannot run
	// jobs now (workers stop leasing while no executor answers).
	Capacity(ctx context.Context) (Capacity, error)
}

// LiveExecutor is an Executor that streams a job's output as it runs and
// feeds an interactive job its input (pkg/live). Both the Docker driver and
// the executor role's HTTP client implement it.
type LiveExecutor interface {
	Executor
	// ExecuteLive is Execute with lio: output events go to lio.Output
	// (which must not block) as the program writes them; lio.Input feeds
	// an interactive job until it closes.
	ExecuteLive(ctx context.Context, j job.Job, lio live.IO) (job.Result, error)
}

// LanguageStatus is one configured language as an executor sees it: its
// image present or not and its idle warm-pool sandboxes.
type LanguageStatus struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version"`
	// ImageVersion is the version the image recorded when it was built
	// (empty for images that do not say); Version is it when set.
	ImageVersion string `json:"image_version,omitempty"`
	Image        string `json:"image"`
	Present      bool   `json:"present"`
	PoolIdle     int    `json:"pool_idle"`
}
