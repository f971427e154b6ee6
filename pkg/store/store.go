// Package store defines the result store contract shared by PostgreSQL
// (pkg/pgstore), the embedded SQLite store (pkg/sqlitestore) and the storage
// role's HTTP client (roles/storage). The contract suite in
// pkg/store/storetest runs against every implementation.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/execbox/app/pkg/job"
)

var (
	// ErrNotFound: no stored submission with that id.
	ErrNotFound = errors.New("submission not found in storage")
	// ErrInvalid: the input can never succeed (a malformed cursor, a
	// submission without an id); retrying it is pointless.
	ErrInvalid = errors.New("invalid storage request")
)

// Pinger is implemented by stores that can tell whether their backend is
// reachable (for readiness checks).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Filter selects submissions for List. Zero fields match everything. Since
// (inclusive) and Until (exclusive) bound the finish time.
type Filter struct {
	Status   job.Status `json:"status,omitempty"`
	Language string     `json:"language,omitempty"`
	APIKeyID string     `json:"api_key_id,omitempty"`
	Since    time.Time  `json:"since,omitzero"`
	Until    time.Time  `json:"until,omitzero"`
	// Cursor is the opaque NextCursor of the previous page.
	Cursor string `json:"cursor,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

// Page is one page of List, newest first by finish time, then by id
// descending (keyset pagination: a cursor stays valid and no row repeats or
// goes missing while newer rows are inserted).
type Page struct {
	Items      []job.Submission `json:"items"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// Stats summarises stored submissions over a window.
type Stats struct {
	Since      time.Time            `json:"since"`
	Total      int64                `json:"total"`
	ByStatus   map[job.Status]int64 `json:"by_status"`
	ByLanguage map[string]int64     `json:"by_language"`
	RunP50Ms   float64              `json:"run_p50_ms"`
	RunP95Ms   float64              `json:"run_p95_ms"`
}

// Store keeps finished submissions.
type Store interface {
	// Put writes finished submissions. Idempotent by id: writing the same
	// submission again changes nothing.
	Put(ctx context.Context, subs []job.Submission) error
	Get(ctx context.Context, id string) (job.Submission, error)
	List(ctx context.Context, f Filter) (Page, error)
	Stats(ctx context.Context, since time.Time) (Stats, error)
	// DeleteBefore deletes at most batch submissions finished before t and
	// reports how many it deleted.
	DeleteBefore(ctx context.Context, t time.Time, batch int) (int, error)
}
