-- API keys made with "app storage keys create". Only the SHA-256 of a key's
-- secret is kept. Keys are revoked, never deleted, so an id is never reused
-- (it stays on the submissions made with it).
CREATE TABLE api_keys (
    id          text COLLATE "C" PRIMARY KEY,
    name        text NOT NULL DEFAULT '',
    key_sha256  bytea NOT NULL UNIQUE CHECK (length(key_sha256) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
