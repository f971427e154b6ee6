package sqlitestore_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/sqlitestore"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/pkg/store/storetest"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func open(t *testing.T, dir string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.OpenDir(context.Background(), dir, discard, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, t.TempDir()) })
}

func TestKeysContract(t *testing.T) {
	t.Parallel()
	storetest.RunKeys(t, func(t *testing.T) store.KeyStore { return open(t, t.TempDir()) })
}

// TestSurvivesReopen: results and the journal are in the file, not in memory.
func TestSurvivesReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	s := open(t, dir)
	now := time.Now()
	done := storetest.Sub(now, job.StatusAccepted, "python", "", 5)
	var pending []job.Submission
	for i := range 3 {
		p := storetest.Sub(now.Add(time.Duration(i)*time.Millisecond), job.StatusQueued, "python", "", 0)
		p.Result, p.FinishedAt = nil, time.Time{}
		p.Request.Files = []job.File{{Name: "big.py", Content: string(make([]byte, 300<<10))}} // over the files cap: must stay whole
		pending = append(pending, p)
	}
	for _, p := range append([]job.Submission{done}, pending...) {
		if err := s.Accepted(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, []job.Submission{done}); err != nil {
		t.Fatal(err)
	}
	// Accepted again after it finished (a replayed enqueue): still not unfinished.
	if err := s.Accepted(ctx, done); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := open(t, dir)
	if _, err := s2.Get(ctx, done.ID); err != nil {
		t.Fatalf("after reopen Get: %v", err)
	}
	un, err := s2.Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range un {
		ids = append(ids, u.ID)
		if len(u.Request.Files) != 1 || len(u.Request.Files[0].Content) != 300<<10 {
			t.Errorf("journaled %s lost its files", u.ID)
		}
	}
	want := []string{pending[0].ID, pending[1].ID, pending[2].ID}
	if !slices.Equal(ids, want) {
		t.Errorf("Unfinished = %v, want %v (oldest first)", ids, want)
	}
	if got, err := s2.Migrate(ctx, discard); err != nil || len(got) != 0 {
		t.Errorf("Migrate on an up-to-date file = %v, %v; want nothing", got, err)
	}
}

// TestMigrateConcurrent: several processes' worth of migrators on one new
// file. Opening a new file races to switch it to WAL, which SQLite can refuse
// with SQLITE_BUSY without waiting (CI caught this at 1 run in 10); Open must
// ride that out. Repeat with -count=1000 after touching Open.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.db")
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := sqlitestore.Open(context.Background(), path, discard, sqlitestore.Options{})
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			_ = s.Close()
		}()
	}
	wg.Wait()
	s, err := sqlitestore.Open(context.Background(), path, discard, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(context.Background(), []job.Submission{storetest.Sub(time.Now(), job.StatusAccepted, "c", "", 1)}); err != nil {
		t.Fatal(err)
	}
}
