-- API keys made with "app storage keys create"; same columns as PostgreSQL
-- (pkg/pgstore), times as integer microseconds since the Unix epoch. Only the
-- SHA-256 of a key's secret is kept; keys are revoked, never deleted.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL DEFAULT '',
    key_sha256  BLOB NOT NULL UNIQUE CHECK (length(key_sha256) = 32),
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
