-- Finished submissions; same columns as PostgreSQL (pkg/pgstore), times as
-- integer microseconds since the Unix epoch, doc as BLOB (pkg/store/record).
CREATE TABLE submissions (
    id              TEXT PRIMARY KEY,
    status          TEXT NOT NULL,
    language        TEXT NOT NULL DEFAULT '',
    version         TEXT NOT NULL DEFAULT '',
    api_key_id      TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT NOT NULL DEFAULT '',
    executor        TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER NOT NULL,
    run_wall_ms     REAL,
    run_cpu_ms      REAL,
    memory_kb       INTEGER,
    exit_code       INTEGER,
    files_sha256    TEXT NOT NULL DEFAULT '',
    cut             INTEGER NOT NULL DEFAULT 0,
    doc_codec       INTEGER NOT NULL,
    doc             BLOB NOT NULL,
    stored_at       INTEGER NOT NULL
);
CREATE INDEX submissions_finished_idx ON submissions (finished_at DESC, id DESC);
CREATE INDEX submissions_api_key_idx ON submissions (api_key_id, finished_at DESC, id DESC);

-- Accepted submissions of the in-process queue (queue.Journal), removed
-- when their result is stored; what is left after a restart is re-queued.
CREATE TABLE journal (
    id          TEXT PRIMARY KEY,
    accepted_at INTEGER NOT NULL,
    doc_codec   INTEGER NOT NULL,
    doc         BLOB NOT NULL
);
CREATE INDEX journal_accepted_idx ON journal (accepted_at, id);
