package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/execbox/app/pkg/store"
)

var _ store.KeyStore = (*Store)(nil)

const keyColumns = "id, name, created_at, revoked_at"

type scanner interface{ Scan(dest ...any) error }

func scanKey(row scanner) (store.Key, error) {
	var (
		k       store.Key
		created int64
		revoked sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.Name, &created, &revoked); err != nil {
		return store.Key{}, err
	}
	k.CreatedAt = time.UnixMicro(created).UTC()
	if revoked.Valid {
		k.RevokedAt = time.UnixMicro(revoked.Int64).UTC()
	}
	return k, nil
}

// isConstraint reports whether err is SQLite's SQLITE_CONSTRAINT (a UNIQUE
// or PRIMARY KEY violation here).
func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// CreateKey implements store.KeyStore.
func (s *Store) CreateKey(ctx context.Context, nk store.NewKey) (store.Key, error) {
	if err := nk.Validate(); err != nil {
		return store.Key{}, err
	}
	k, err := scanKey(s.db.QueryRowContext(ctx, `INSERT INTO api_keys (id, name, key_sha256, created_at) VALUES (?, ?, ?, ?)
		RETURNING `+keyColumns, nk.ID, nk.Name, nk.Hash[:], s.clock().UnixMicro()))
	if isConstraint(err) {
		return store.Key{}, fmt.Errorf("%w: id %q (or its secret) is taken", store.ErrKeyExists, nk.ID)
	}
	if err != nil {
		return store.Key{}, fmt.Errorf("sqlitestore: create key %s: %w", nk.ID, err)
	}
	return k, nil
}

// RevokeKey implements store.KeyStore.
func (s *Store) RevokeKey(ctx context.Context, id string) (store.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?)
		WHERE id = ? RETURNING `+keyColumns, s.clock().UnixMicro(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Key{}, fmt.Errorf("%w: id %q", store.ErrKeyNotFound, id)
	}
	if err != nil {
		return store.Key{}, fmt.Errorf("sqlitestore: revoke key %s: %w", id, err)
	}
	return k, nil
}

// ListKeys implements store.KeyStore.
func (s *Store) ListKeys(ctx context.Context) ([]store.Key, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+keyColumns+" FROM api_keys ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list keys: %w", err)
	}
	defer rows.Close()
	var keys []store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: list keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list keys: %w", err)
	}
	return keys, nil
}

// LookupKey implements store.KeyStore.
func (s *Store) LookupKey(ctx context.Context, hash [32]byte) (store.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, "SELECT "+keyColumns+" FROM api_keys WHERE key_sha256 = ? AND revoked_at IS NULL", hash[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Key{}, store.ErrKeyNotFound
	}
	if err != nil {
		return store.Key{}, fmt.Errorf("sqlitestore: look up key: %w", err)
	}
	return k, nil
}
