package storage

import (
	"errors"
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/store"
)

// TestEmbedded: without DATABASE_URL the role keeps results in SQLite under
// the data directory; they and the journal survive a restart.
func TestEmbedded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := testCtx(t, time.Minute)
	all := subs(30, time.Now())
	pending := all[29]
	pending.Status, pending.Result, pending.FinishedAt = job.StatusQueued, nil, time.Time{}

	feed := newFakeFeed(29)
	r, err := New(Config{DataDir: dir, ReadBlock: 50 * time.Millisecond}, discard, Deps{Feed: feed})
	if err != nil {
		t.Fatal(err)
	}
	if r.Journal() == nil {
		t.Fatal("embedded store has no journal")
	}
	for _, s := range append(all[:29:29], pending) {
		if err := r.Journal().Accepted(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	stop := runRole(t, r)
	feed.Add(all[:29]...)
	select {
	case <-feed.drained:
	case <-ctx.Done():
		t.Fatal("feed not drained")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	r2, err := New(Config{DataDir: dir}, discard, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	page, err := r2.Store().List(ctx, store.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 29 {
		t.Errorf("after restart %d results, want 29", len(page.Items))
	}
	un, err := r2.Journal().Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(un) != 1 || un[0].ID != pending.ID {
		t.Errorf("Unfinished = %v, want only %s", idsOf(un), pending.ID)
	}
	if _, err := r2.Store().Get(ctx, pending.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unfinished submission in the results: %v", err)
	}
}
