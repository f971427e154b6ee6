-- Finished submissions. The scalar columns serve filters, ordering and
-- stats; doc holds the whole submission (JSON, gzip when doc_codec = 1) as
-- bytea so NUL and any byte in stdin, metadata, files or outputs survive
-- (text and jsonb reject NUL). See pkg/store/record.
CREATE TABLE submissions (
    id              text COLLATE "C" PRIMARY KEY,
    status          text NOT NULL,
    language        text NOT NULL DEFAULT '',
    version         text NOT NULL DEFAULT '',
    api_key_id      text NOT NULL DEFAULT '',
    idempotency_key text NOT NULL DEFAULT '',
    executor        text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    started_at      timestamptz,
    finished_at     timestamptz NOT NULL,
    run_wall_ms     double precision,
    run_cpu_ms      double precision,
    memory_kb       bigint,
    exit_code       integer,
    files_sha256    text NOT NULL DEFAULT '',
    cut             boolean NOT NULL DEFAULT false,
    doc_codec       smallint NOT NULL,
    doc             bytea NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT now()
);

-- Keyset pagination newest first, retention and stats windows. Listing by
-- status or language walks this index and filters: each extra index costs
-- every insert, and those filters are rare next to per-key history.
CREATE INDEX submissions_finished_idx ON submissions (finished_at DESC, id DESC);
-- Per-key history (the gateway's list).
CREATE INDEX submissions_api_key_idx ON submissions (api_key_id, finished_at DESC, id DESC) WHERE api_key_id <> '';
