// Package sqlitestore is the embedded result store: SQLite through the
// pure-Go modernc.org/sqlite driver (no cgo, the binary stays static), in one
// file. It implements store.Store with the same rows as PostgreSQL
// (pkg/store/record) and queue.Journal for the in-process queue of app all,
// so accepted-but-unfinished submissions are re-queued after a restart.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/execbox/app/pkg/backoff"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/pkg/store/migrate"
	"github.com/execbox/app/pkg/store/record"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// FileName is the database file Open creates under a data directory.
const FileName = "execbox.db"

// Options tunes a Store.
type Options struct {
	// Limits caps stored documents; zero means record.DefaultLimits.
	Limits record.Limits
	// Clock returns the current time (journal timestamps); nil means time.Now.
	Clock func() time.Time
}

// Store is a store.Store and queue.Journal in one SQLite file.
type Store struct {
	db    *sql.DB
	lim   record.Limits
	clock func() time.Time
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Pinger  = (*Store)(nil)
	_ queue.Journal = (*Store)(nil)
)

// OpenDir opens (creating if needed) FileName under dir and migrates it.
func OpenDir(ctx context.Context, dir string, log *slog.Logger, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("sqlitestore: data directory: %w", err)
	}
	return Open(ctx, filepath.Join(dir, FileName), log, opts)
}

// Open opens (creating if needed) the database file at path and applies the
// embedded migrations.
func Open(ctx context.Context, path string, log *slog.Logger, opts Options) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(ON)", "cache_size(-1024)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate") // writers take the lock up front: no upgrade deadlocks
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	// One writer at a time is all SQLite allows; a second connection lets a
	// reader run beside it (WAL).
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(time.Minute)
	lim := opts.Limits
	if lim == (record.Limits{}) {
		lim = record.DefaultLimits
	}
	s := &Store{db: db, lim: lim, clock: opts.Clock}
	if s.clock == nil {
		s.clock = time.Now
	}
	if err := migrateWhileBusy(ctx, s, log); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// migrateWhileBusy runs Migrate, retrying while SQLite answers SQLITE_BUSY.
// Two processes opening one brand-new file race to switch it to WAL, and
// that switch can fail with SQLITE_BUSY without consulting busy_timeout;
// the loser only has to try again once the winner is done.
func migrateWhileBusy(ctx context.Context, s *Store, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	bo := &backoff.Backoff{Min: 5 * time.Millisecond, Max: 200 * time.Millisecond, Jitter: 0.5}
	for {
		_, err := s.Migrate(ctx, log)
		if err == nil || !isBusy(err) {
			return err
		}
		if bo.Wait(ctx) != nil {
			return err
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY or SQLITE_LOCKED
// (extended codes included).
func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the database file is usable.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Migrate applies the embedded migrations not applied yet, all in one
// BEGIN IMMEDIATE transaction: SQLite's write lock serialises concurrent
// migrators, and DDL is transactional, so a failed migration leaves nothing.
func (s *Store) Migrate(ctx context.Context, log *slog.Logger) ([]int, error) {
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil) // immediate, see _txlock
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return nil, fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlitestore: migrate: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	var done []int
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return nil, fmt.Errorf("sqlitestore: apply %04d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.Version, m.Name, s.clock().UnixMicro()); err != nil {
			return nil, fmt.Errorf("sqlitestore: apply %04d_%s: %w", m.Version, m.Name, err)
		}
		done = append(done, m.Version)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	for _, v := range done {
		log.Info("migration applied", "version", v, "store", "sqlite")
	}
	return done, nil
}

func micros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// Put implements store.Store: one transaction per batch; it also removes
// the batch from the journal.
func (s *Store) Put(ctx context.Context, subs []job.Submission) error {
	if len(subs) == 0 {
		return nil
	}
	recs := make([]record.Record, 0, len(subs))
	for _, sub := range subs {
		r, err := record.New(sub, s.lim)
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: put: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO submissions (id, status, language, version, api_key_id,
		idempotency_key, executor, created_at, started_at, finished_at, run_wall_ms, run_cpu_ms, memory_kb,
		exit_code, files_sha256, cut, doc_codec, doc, stored_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, language = excluded.language,
			version = excluded.version, api_key_id = excluded.api_key_id, idempotency_key = excluded.idempotency_key,
			executor = excluded.executor, created_at = excluded.created_at, started_at = excluded.started_at,
			finished_at = excluded.finished_at, run_wall_ms = excluded.run_wall_ms, run_cpu_ms = excluded.run_cpu_ms,
			memory_kb = excluded.memory_kb, exit_code = excluded.exit_code, files_sha256 = excluded.files_sha256,
			cut = excluded.cut, doc_codec = excluded.doc_codec, doc = excluded.doc, stored_at = excluded.stored_at
		WHERE submissions.finished_at < excluded.finished_at`)
	if err != nil {
		return fmt.Errorf("sqlitestore: put: %w", err)
	}
	defer ins.Close()
	del, err := tx.PrepareContext(ctx, "DELETE FROM journal WHERE id = ?")
	if err != nil {
		return fmt.Errorf("sqlitestore: put: %w", err)
	}
	defer del.Close()
	now := s.clock().UnixMicro()
	for _, r := range recs {
		var wall, cpu, mem, exit any
		if r.RunWallMs != nil {
			wall, cpu, mem, exit = *r.RunWallMs, *r.RunCPUMs, *r.MemoryKB, *r.ExitCode
		}
		if _, err := ins.ExecContext(ctx, r.ID, r.Status, r.Language, r.Version, r.APIKeyID, r.IdempotencyKey,
			r.Executor, r.CreatedAt.UnixMicro(), micros(r.StartedAt), r.FinishedAt.UnixMicro(), wall, cpu, mem, exit,
			r.FilesSHA256, r.Cut, int16(r.Codec), r.Doc, now); err != nil {
			return fmt.Errorf("sqlitestore: put %s: %w", r.ID, err)
		}
		if _, err := del.ExecContext(ctx, r.ID); err != nil {
			return fmt.Errorf("sqlitestore: put %s: %w", r.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: put: %w", err)
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (job.Submission, error) {
	var (
		codec int16
		doc   []byte
	)
	err := s.db.QueryRowContext(ctx, "SELECT doc_codec, doc FROM submissions WHERE id = ?", id).Scan(&codec, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return job.Submission{}, fmt.Errorf("%w: %s", store.ErrNotFound, id)
	}
	if err != nil {
		return job.Submission{}, fmt.Errorf("sqlitestore: get %s: %w", id, err)
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
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if f.Language != "" {
		where, args = append(where, "language = ?"), append(args, f.Language)
	}
	if f.APIKeyID != "" {
		where, args = append(where, "api_key_id = ?"), append(args, f.APIKeyID)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "finished_at >= ?"), append(args, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "finished_at < ?"), append(args, f.Until.UnixMicro())
	}
	if hasCur {
		where, args = append(where, "(finished_at, id) < (?, ?)"), append(args, cur.FinishedAt.UnixMicro(), cur.ID)
	}
	q := "SELECT doc_codec, doc, finished_at, id FROM submissions"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY finished_at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return store.Page{}, fmt.Errorf("sqlitestore: list: %w", err)
	}
	defer rows.Close()
	page := store.Page{Items: make([]job.Submission, 0, min(limit, 64))}
	var (
		lastAt int64
		lastID string
	)
	for rows.Next() {
		if len(page.Items) == limit {
			page.NextCursor = record.Cursor{FinishedAt: time.UnixMicro(lastAt).UTC(), ID: lastID}.Encode()
			break
		}
		var (
			codec int16
			doc   []byte
		)
		if err := rows.Scan(&codec, &doc, &lastAt, &lastID); err != nil {
			return store.Page{}, fmt.Errorf("sqlitestore: list: %w", err)
		}
		sub, err := record.Submission(record.Codec(codec), doc)
		if err != nil {
			return store.Page{}, err
		}
		page.Items = append(page.Items, sub)
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, fmt.Errorf("sqlitestore: list: %w", err)
	}
	return page, nil
}

// Stats implements store.Store. Percentiles are percentile_cont like
// PostgreSQL's, read with two indexed OFFSET lookups instead of loading the
// window into memory.
func (s *Store) Stats(ctx context.Context, since time.Time) (store.Stats, error) {
	st := store.Stats{Since: since, ByStatus: map[job.Status]int64{}, ByLanguage: map[string]int64{}}
	from := since.UnixMicro()
	if since.IsZero() {
		from = -1 << 62
	}
	rows, err := s.db.QueryContext(ctx, `SELECT status, language, count(*) FROM submissions
		WHERE finished_at >= ? GROUP BY status, language`, from)
	if err != nil {
		return st, fmt.Errorf("sqlitestore: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			status, lang string
			n            int64
		)
		if err := rows.Scan(&status, &lang, &n); err != nil {
			return st, fmt.Errorf("sqlitestore: stats: %w", err)
		}
		st.Total += n
		st.ByStatus[job.Status(status)] += n
		st.ByLanguage[lang] += n
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("sqlitestore: stats: %w", err)
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM submissions WHERE finished_at >= ? AND run_wall_ms IS NOT NULL`,
		from).Scan(&n); err != nil {
		return st, fmt.Errorf("sqlitestore: stats: %w", err)
	}
	at := func(i int64) (float64, error) {
		var v float64
		err := s.db.QueryRowContext(ctx, `SELECT run_wall_ms FROM submissions WHERE finished_at >= ? AND run_wall_ms IS NOT NULL
			ORDER BY run_wall_ms LIMIT 1 OFFSET ?`, from, i).Scan(&v)
		return v, err
	}
	if st.RunP50Ms, err = record.Percentile(n, 0.5, at); err != nil {
		return st, fmt.Errorf("sqlitestore: stats: %w", err)
	}
	if st.RunP95Ms, err = record.Percentile(n, 0.95, at); err != nil {
		return st, fmt.Errorf("sqlitestore: stats: %w", err)
	}
	return st, nil
}

// DeleteBefore implements store.Store.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM submissions WHERE id IN (
		SELECT id FROM submissions WHERE finished_at < ? ORDER BY finished_at LIMIT ?)`, t.UnixMicro(), batch)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: delete before: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Accepted implements queue.Journal: it records a queued submission exactly
// as given (nothing is cut: it must run again after a restart).
func (s *Store) Accepted(ctx context.Context, sub job.Submission) error {
	r, err := record.New(sub, record.Limits{CompressAbove: s.lim.CompressAbove})
	if err != nil {
		return err
	}
	at := sub.CreatedAt
	if at.IsZero() {
		at = s.clock()
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO journal (id, accepted_at, doc_codec, doc)
		SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM submissions WHERE id = ?)
		ON CONFLICT (id) DO NOTHING`, r.ID, at.UnixMicro(), int16(r.Codec), r.Doc, r.ID)
	if err != nil {
		return fmt.Errorf("sqlitestore: journal %s: %w", r.ID, err)
	}
	return nil
}

// Unfinished implements queue.Journal.
func (s *Store) Unfinished(ctx context.Context) ([]job.Submission, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT doc_codec, doc FROM journal j
		WHERE NOT EXISTS (SELECT 1 FROM submissions s WHERE s.id = j.id) ORDER BY accepted_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: unfinished: %w", err)
	}
	defer rows.Close()
	var subs []job.Submission
	for rows.Next() {
		var (
			codec int16
			doc   []byte
		)
		if err := rows.Scan(&codec, &doc); err != nil {
			return nil, fmt.Errorf("sqlitestore: unfinished: %w", err)
		}
		sub, err := record.Submission(record.Codec(codec), doc)
		if err != nil {
			return nil, err
		}
		subs = append(subs, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: unfinished: %w", err)
	}
	return subs, nil
}
