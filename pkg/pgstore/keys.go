package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/execbox/app/pkg/store"
)

var _ store.KeyStore = (*Store)(nil)

const keyColumns = "id, name, created_at, revoked_at"

func scanKey(row pgx.Row) (store.Key, error) {
	var (
		k       store.Key
		revoked *time.Time
	)
	if err := row.Scan(&k.ID, &k.Name, &k.CreatedAt, &revoked); err != nil {
		return store.Key{}, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if revoked != nil {
		k.RevokedAt = revoked.UTC()
	}
	return k, nil
}

// CreateKey implements store.KeyStore.
func (s *Store) CreateKey(ctx context.Context, nk store.NewKey) (store.Key, error) {
	if err := nk.Validate(); err != nil {
		return store.Key{}, err
	}
	k, err := scanKey(s.pool.QueryRow(ctx, `INSERT INTO api_keys (id, name, key_sha256) VALUES ($1, $2, $3)
		RETURNING `+keyColumns, nk.ID, nk.Name, nk.Hash[:]))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return store.Key{}, fmt.Errorf("%w: id %q (or its secret) is taken", store.ErrKeyExists, nk.ID)
	}
	if err != nil {
		return store.Key{}, fmt.Errorf("pgstore: create key %s: %w", nk.ID, classify(err))
	}
	return k, nil
}

// RevokeKey implements store.KeyStore.
func (s *Store) RevokeKey(ctx context.Context, id string) (store.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
		WHERE id = $1 RETURNING `+keyColumns, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Key{}, fmt.Errorf("%w: id %q", store.ErrKeyNotFound, id)
	}
	if err != nil {
		return store.Key{}, fmt.Errorf("pgstore: revoke key %s: %w", id, classify(err))
	}
	return k, nil
}

// ListKeys implements store.KeyStore.
func (s *Store) ListKeys(ctx context.Context) ([]store.Key, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+keyColumns+" FROM api_keys ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("pgstore: list keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Key, error) { return scanKey(row) })
	if err != nil {
		return nil, fmt.Errorf("pgstore: list keys: %w", err)
	}
	return keys, nil
}

// LookupKey implements store.KeyStore.
func (s *Store) LookupKey(ctx context.Context, hash [32]byte) (store.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, "SELECT "+keyColumns+" FROM api_keys WHERE key_sha256 = $1 AND revoked_at IS NULL", hash[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Key{}, store.ErrKeyNotFound
	}
	if err != nil {
		return store.Key{}, fmt.Errorf("pgstore: look up key: %w", err)
	}
	return k, nil
}
