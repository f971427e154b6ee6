package pgstore_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/execbox/app/pkg/pgstore"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/pkg/store/storetest"
	"github.com/execbox/app/pkg/testenv"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// open returns a migrated store on a fresh database.
func open(t *testing.T) *pgstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := pgstore.Open(ctx, testenv.Postgres(t), pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if _, err := pgstore.Migrate(ctx, s.Pool(), discard); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func TestKeysContract(t *testing.T) {
	t.Parallel()
	storetest.RunKeys(t, func(t *testing.T) store.KeyStore { return open(t) })
}

// TestMigrateConcurrent: two migrators racing on a fresh database both
// succeed, and every migration is applied exactly once.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	url := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied []int
		start   = make(chan struct{})
	)
	for range n {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		if err := pool.Ping(ctx); err != nil { // connect before the race
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			vs, err := pgstore.Migrate(ctx, pool, discard)
			if err != nil {
				t.Errorf("Migrate: %v", err)
			}
			mu.Lock()
			applied = append(applied, vs...)
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var rows, versions int
	if err := pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT version) FROM schema_migrations").Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows == 0 || rows != versions || len(applied) != rows {
		t.Errorf("schema_migrations has %d rows (%d versions); migrators applied %v; want each version once", rows, versions, applied)
	}
	// A later run has nothing to do.
	if vs, err := pgstore.Migrate(ctx, pool, discard); err != nil || len(vs) != 0 {
		t.Errorf("second Migrate = %v, %v; want nothing applied", vs, err)
	}
}

// TestJSONBRejectsNUL documents why documents are bytea, not jsonb.
func TestJSONBRejectsNUL(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	var out string
	err := s.Pool().QueryRow(ctx, `SELECT '{"a":"x\u0000y"}'::jsonb::text`).Scan(&out)
	if err == nil {
		t.Fatalf("jsonb accepted \\u0000 (%q): storing documents as jsonb would be safe after all", out)
	}
	if err := s.Pool().QueryRow(ctx, "SELECT $1::text", "a\x00b").Scan(&out); err == nil {
		t.Fatalf("text accepted NUL: %q", out)
	}
}
