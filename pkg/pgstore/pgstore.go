// Package pgstore is the PostgreSQL result store (pgx/v5 with a pgxpool).
//
// Rows follow pkg/store/record: scalar columns for filters, ordering and
// stats, and the whole submission as a bytea document, so NUL and invalid
// UTF-8 anywhere in a submission survive. Put writes a whole batch with one
// multi-row INSERT ... SELECT FROM unnest(...) ON CONFLICT (id) DO UPDATE
// ... WHERE the stored row finished earlier: one round trip per batch,
// idempotent by submission id, and a later attempt of the same submission (a
// re-queued dead letter) replaces the earlier one.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/outage"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/pkg/store/record"
)

// Options tunes a Store.
type Options struct {
	// Limits caps stored documents; zero means record.DefaultLimits.
	Limits record.Limits
	// MaxConns bounds the pool (default 4: storage writes from one goroutine
	// and serves a few reads).
	MaxConns int32
}

// Store is a store.Store backed by PostgreSQL.
type Store struct {
	pool  *pgxpool.Pool
	lim   record.Limits
	owned bool
}

var (
	_ store.Store  = (*Store)(nil)
	_ store.Pinger = (*Store)(nil)
)

// Open creates a pool for url. It does not connect yet: the first query
// does, so Open succeeds while PostgreSQL is down.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 4
	}
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = time.Minute
	cfg.HealthCheckPeriod = 15 * time.Second
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s := New(pool, opts)
	s.owned = true
	return s, nil
}

// New wraps an existing pool; Close leaves it open.
func New(pool *pgxpool.Pool, opts Options) *Store {
	lim := opts.Limits
	if lim == (record.Limits{}) {
		lim = record.DefaultLimits
	}
	return &Store{pool: pool, lim: lim}
}

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool if Open created it.
func (s *Store) Close() {
	if s.owned {
		s.pool.Close()
	}
}

// Ping checks that PostgreSQL answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

const insertSQL = `INSERT INTO submissions (id, status, language, version, api_key_id, idempotency_key,
	executor, created_at, started_at, finished_at, run_wall_ms, run_cpu_ms, memory_kb, exit_code,
	files_sha256, cut, doc_codec, doc)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
	$7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::float8[], $12::float8[],
	$13::int8[], $14::int4[], $15::text[], $16::bool[], $17::int2[], $18::bytea[])
ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, language = EXCLUDED.language,
	version = EXCLUDED.version, api_key_id = EXCLUDED.api_key_id, idempotency_key = EXCLUDED.idempotency_key,
	executor = EXCLUDED.executor, created_at = EXCLUDED.created_at, started_at = EXCLUDED.started_at,
	finished_at = EXCLUDED.finished_at, run_wall_ms = EXCLUDED.run_wall_ms, run_cpu_ms = EXCLUDED.run_cpu_ms,
	memory_kb = EXCLUDED.memory_kb, exit_code = EXCLUDED.exit_code, files_sha256 = EXCLUDED.files_sha256,
	cut = EXCLUDED.cut, doc_codec = EXCLUDED.doc_codec, doc = EXCLUDED.doc
WHERE submissions.finished_at < EXCLUDED.finished_at`

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, subs []job.Submission) error {
	_, err := s.PutCount(ctx, subs)
	return err
}

// PutCount is Put that also reports how many rows it wrote (new submissions
// and newer attempts).
func (s *Store) PutCount(ctx context.Context, subs []job.Submission) (int, error) {
	if len(subs) == 0 {
		return 0, nil
	}
	// One row per id (ON CONFLICT cannot touch a row twice in one
	// statement): the attempt that finished last.
	recs := make([]record.Record, 0, len(subs))
	at := make(map[string]int, len(subs))
	for _, sub := range subs {
		r, err := record.New(sub, s.lim)
		if err != nil {
			return 0, err
		}
		if i, dup := at[r.ID]; dup {
			if r.FinishedAt.After(recs[i].FinishedAt) {
				recs[i] = r
			}
			continue
		}
		at[r.ID] = len(recs)
		recs = append(recs, r)
	}
	var c columns
	for _, r := range recs {
		c.add(r)
	}
	tag, err := s.pool.Exec(ctx, insertSQL, c.args()...)
	if err != nil {
		return 0, fmt.Errorf("pgstore: put %d submissions: %w", len(c.id), classify(err))
	}
	return int(tag.RowsAffected()), nil
}

// columns holds a batch column by column, for unnest.
type columns struct {
	id, status, language, version, apiKey, idem, executor, digest []string
	created, finished                                             []time.Time
	started                                                       []*time.Time
	wall, cpu                                                     []*float64
	mem                                                           []*int64
	exit                                                          []*int32
	cut                                                           []bool
	codec                                                         []int16
	doc                                                           [][]byte
}

func (c *columns) add(r record.Record) {
	c.id = append(c.id, r.ID)
	c.status = append(c.status, r.Status)
	c.language = append(c.language, r.Language)
	c.version = append(c.version, r.Version)
	c.apiKey = append(c.apiKey, r.APIKeyID)
	c.idem = append(c.idem, r.IdempotencyKey)
	c.executor = append(c.executor, r.Executor)
	c.created = append(c.created, r.CreatedAt)
	c.started = append(c.started, r.StartedAt)
	c.finished = append(c.finished, r.FinishedAt)
	c.wall = append(c.wall, r.RunWallMs)
	c.cpu = append(c.cpu, r.RunCPUMs)
	c.mem = append(c.mem, r.MemoryKB)
	c.exit = append(c.exit, r.ExitCode)
	c.digest = append(c.digest, r.FilesSHA256)
	c.cut = append(c.cut, r.Cut)
	c.codec = append(c.codec, int16(r.Codec))
	c.doc = append(c.doc, r.Doc)
}

// args are the parameters of insertSQL, in order.
func (c *columns) args() []any {
	return []any{c.id, c.status, c.language, c.version, c.apiKey, c.idem, c.executor,
		c.created, c.started, c.finished, c.wall, c.cpu, c.mem, c.exit, c.digest, c.cut, c.codec, c.doc}
}

// classify marks errors that retrying cannot fix (bad data) as
// store.ErrInvalid; everything else (connection loss, shutdown, ...) stays
// retryable.
func classify(err error) error {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23")):
		return fmt.Errorf("%w: %w", store.ErrInvalid, err)
	case errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P")):
		// Connection exceptions, shutting down, starting up.
		return outage.Wrap("PostgreSQL", err)
	case pe == nil && !errors.Is(err, context.Canceled):
		// No answer from the server at all (refused, reset, timed out).
		return outage.Wrap("PostgreSQL", err)
	}
	return err
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (job.Submission, error) {
	var (
		codec int16
		doc   []byte
	)
	err := s.pool.QueryRow(ctx, "SELECT doc_codec, doc FROM submissions WHERE id = $1", record.Clean(id)).Scan(&codec, &doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return job.Submission{}, fmt.Errorf("%w: %s", store.ErrNotFound, id)
	}
	if err != nil {
		return job.Submission{}, fmt.Errorf("pgstore: get %s: %w", id, classify(err))
	}
	return record.Submission(record.Codec(codec), doc)
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, f store.Filter) (store.Page, error) {
	cur, hasCur, err := record.ParseCursor(f.Cursor)
	if err != nil {
		return store.Page{}, err
	}
	limit := record.PageSize(f.Limit)
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(record.Clean(string(f.Status))))
	}
	if f.Language != "" {
		where = append(where, "language = "+arg(record.Clean(f.Language)))
	}
	if f.APIKeyID != "" {
		where = append(where, "api_key_id = "+arg(record.Clean(f.APIKeyID)))
	}
	if !f.Since.IsZero() {
		where = append(where, "finished_at >= "+arg(record.Micros(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "finished_at < "+arg(record.Micros(f.Until)))
	}
	if hasCur {
		where = append(where, fmt.Sprintf("(finished_at, id) < (%s, %s)", arg(cur.FinishedAt), arg(cur.ID)))
	}
	q := "SELECT doc_codec, doc, finished_at, id FROM submissions"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY finished_at DESC, id DESC LIMIT " + arg(limit+1)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return store.Page{}, fmt.Errorf("pgstore: list: %w", classify(err))
	}
	defer rows.Close()
	page := store.Page{Items: make([]job.Submission, 0, min(limit, 64))}
	var last record.Cursor
	for rows.Next() {
		if len(page.Items) == limit {
			page.NextCursor = last.Encode()
			break
		}
		var (
			codec int16
			doc   []byte
		)
		if err := rows.Scan(&codec, &doc, &last.FinishedAt, &last.ID); err != nil {
			return store.Page{}, fmt.Errorf("pgstore: list: %w", classify(err))
		}
		sub, err := record.Submission(record.Codec(codec), doc)
		if err != nil {
			return store.Page{}, err
		}
		page.Items = append(page.Items, sub)
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, fmt.Errorf("pgstore: list: %w", classify(err))
	}
	return page, nil
}

// Stats implements store.Store.
func (s *Store) Stats(ctx context.Context, since time.Time) (store.Stats, error) {
	st := store.Stats{Since: since, ByStatus: map[job.Status]int64{}, ByLanguage: map[string]int64{}}
	rows, err := s.pool.Query(ctx, `SELECT status, language, count(*) FROM submissions
		WHERE finished_at >= $1 GROUP BY status, language`, record.Micros(since))
	if err != nil {
		return st, fmt.Errorf("pgstore: stats: %w", classify(err))
	}
	var (
		status, lang string
		n            int64
	)
	_, err = pgx.ForEachRow(rows, []any{&status, &lang, &n}, func() error {
		st.Total += n
		st.ByStatus[job.Status(status)] += n
		st.ByLanguage[lang] += n
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("pgstore: stats: %w", classify(err))
	}
	var p50, p95 *float64
	err = s.pool.QueryRow(ctx, `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY run_wall_ms),
		percentile_cont(0.95) WITHIN GROUP (ORDER BY run_wall_ms)
		FROM submissions WHERE finished_at >= $1 AND run_wall_ms IS NOT NULL`, record.Micros(since)).Scan(&p50, &p95)
	if err != nil {
		return st, fmt.Errorf("pgstore: stats: %w", classify(err))
	}
	if p50 != nil {
		st.RunP50Ms = *p50
	}
	if p95 != nil {
		st.RunP95Ms = *p95
	}
	return st, nil
}

// DeleteBefore implements store.Store: one short statement deleting at most
// batch rows, oldest first, skipping rows another deleter has locked.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM submissions WHERE id IN (
		SELECT id FROM submissions WHERE finished_at < $1 ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		record.Micros(t), batch)
	if err != nil {
		return 0, fmt.Errorf("pgstore: delete before %s: %w", t.Format(time.RFC3339), err)
	}
	return int(tag.RowsAffected()), nil
}
