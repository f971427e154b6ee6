// Package store defines the result store contract shared by PostgreSQL
// (pkg/pgstore), the embedded SQLite store (pkg/sqlitestore) and the storage
// role's HTTP client (roles/storage). The contract suite in
// pkg/store/storetest runs against every implementation.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

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

// API keys kept in the store (besides those in the gateway's configuration).
// Only the SHA-256 of a key's secret is stored; the secret is shown once,
// when the key is made, and never again.

var (
	// ErrKeyNotFound: no active key with that hash, or no key with that id.
	ErrKeyNotFound = errors.New("API key not found")
	// ErrKeyExists: a key with that id (or that hash) is already stored.
	ErrKeyExists = errors.New("API key already exists")
)

// NewKey is a key to store: its id (recorded with its submissions, counted
// by rate limits), a free-form name and the SHA-256 of its secret.
type NewKey struct {
	ID   string
	Name string
	Hash [32]byte
}

// MaxKeyIDLen and MaxKeyNameLen bound a key's id and name.
const (
	MaxKeyIDLen   = 64
	MaxKeyNameLen = 200
)

// Validate checks the id (1 to 64 letters, digits, '.', '_' or '-') and the
// name (at most 200 bytes, no control characters); errors wrap ErrInvalid.
func (k NewKey) Validate() error {
	if k.ID == "" || len(k.ID) > MaxKeyIDLen {
		return fmt.Errorf("%w: key id must be 1 to %d characters", ErrInvalid, MaxKeyIDLen)
	}
	for _, c := range k.ID {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: key id %q may hold only letters, digits, '.', '_' and '-'", ErrInvalid, k.ID)
		}
	}
	if len(k.Name) > MaxKeyNameLen || !utf8.ValidString(k.Name) {
		return fmt.Errorf("%w: key name must be valid UTF-8 of at most %d bytes", ErrInvalid, MaxKeyNameLen)
	}
	for _, c := range k.Name {
		if unicode.IsControl(c) {
			return fmt.Errorf("%w: key name must not hold control characters", ErrInvalid)
		}
	}
	if k.Hash == ([32]byte{}) {
		return fmt.Errorf("%w: key hash is missing", ErrInvalid)
	}
	return nil
}

// Key is a stored key (never its secret or hash).
type Key struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt is zero while the key is active.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Active reports whether the key has not been revoked.
func (k Key) Active() bool { return k.RevokedAt.IsZero() }

// KeyStore keeps API keys. PostgreSQL, the embedded store and the storage
// role's client implement it; the gateway uses it when its store does.
type KeyStore interface {
	// CreateKey stores a new key; ErrKeyExists if the id or hash is taken
	// (by an active or a revoked key: ids are never reused).
	CreateKey(ctx context.Context, k NewKey) (Key, error)
	// RevokeKey revokes the key with that id; ErrKeyNotFound if there is
	// none. Revoking a revoked key changes nothing.
	RevokeKey(ctx context.Context, id string) (Key, error)
	// ListKeys returns every key, revoked ones too, oldest first.
	ListKeys(ctx context.Context) ([]Key, error)
	// LookupKey returns the active key whose secret hashes to hash;
	// ErrKeyNotFound if none (revoked keys are not found).
	LookupKey(ctx context.Context, hash [32]byte) (Key, error)
}
