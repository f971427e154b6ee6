// Package storetest is the contract suite every store.Store implementation
// must pass: PostgreSQL, the embedded SQLite store and the storage role's
// HTTP client.
package storetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/store"
)

// Factory returns a new, empty store for one test. It registers its own
// cleanup with t.
type Factory func(t *testing.T) store.Store

// base is a fixed point in time the suite builds its data around; far enough
// in the past that nothing real is older, recent enough for every store.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Run runs the contract suite.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"PutGet", testPutGet},
		{"GetNotFound", testGetNotFound},
		{"IdempotentReplay", testIdempotentReplay},
		{"NewerAttemptReplaces", testNewerAttempt},
		{"ListFilters", testListFilters},
		{"Pagination", testPagination},
		{"PaginationStableUnderInserts", testPaginationConcurrent},
		{"BadCursor", testBadCursor},
		{"Stats", testStats},
		{"Retention", testRetention},
		{"NULAndBinaryRoundTrip", testNUL},
		{"LargeOutputCut", testLargeOutput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// Sub builds a finished submission for tests.
func Sub(finished time.Time, status job.Status, lang, apiKey string, wallMs float64) job.Submission {
	id := job.NewID(finished)
	created := finished.Add(-time.Second)
	stdout := job.NewOutput([]byte("hello from "+id+"\n"), false)
	return job.Submission{
		ID:     id,
		Status: status,
		Request: job.Request{
			Language: lang,
			Version:  "1.0",
			Files:    []job.File{{Name: "main.x", Content: "print('hi')\n"}},
			Stdin:    "input\n",
			Args:     []string{"-v", "x"},
			Limits:   job.Limits{CPUTimeMs: 1000, WallTimeMs: 2000, MemoryKB: 65536},
			Metadata: map[string]string{"course": "cs101"},
			APIKeyID: apiKey, IdempotencyKey: "idem-" + id,
			Compat: job.Compat{API: "judge0", LanguageID: 71, Base64: true},
		},
		Result: &job.Result{
			Status:  status,
			Compile: &job.Step{Verdict: job.StatusAccepted, WallTimeMs: 12.5},
			Run: &job.Step{Verdict: status, Stdout: stdout, Stderr: job.NewOutput(nil, false),
				ExitCode: 0, CPUTimeMs: wallMs / 2, WallTimeMs: wallMs, MemoryKB: 2048},
			Tests:    []job.Step{{Verdict: status, Stdout: stdout, WallTimeMs: wallMs}},
			Language: lang, Version: "1.0", Executor: "executor-1",
			StartedAt: created.Add(100 * time.Millisecond), FinishedAt: finished,
		},
		Attempts:   1,
		CreatedAt:  created,
		UpdatedAt:  finished,
		FinishedAt: finished,
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// canon is s as JSON, the form every store promises to keep.
func canon(t *testing.T, s job.Submission) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func put(t *testing.T, s store.Store, subs ...job.Submission) {
	t.Helper()
	if err := s.Put(ctxT(t), subs); err != nil {
		t.Fatalf("Put(%d): %v", len(subs), err)
	}
}

func mustGet(t *testing.T, s store.Store, id string) job.Submission {
	t.Helper()
	got, err := s.Get(ctxT(t), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return got
}

func testPutGet(t *testing.T, s store.Store) {
	a := Sub(base, job.StatusAccepted, "python", "key-1", 42)
	b := Sub(base.Add(time.Second), job.StatusRuntimeError, "c", "", 7)
	b.Result.Run.ExitCode, b.Result.Run.Signal = 139, "SIGSEGV"
	b.Result.Run.Stderr = job.NewOutput([]byte("segfault"), true)
	put(t, s, a, b)
	for _, want := range []job.Submission{a, b} {
		if got := mustGet(t, s, want.ID); canon(t, got) != canon(t, want) {
			t.Errorf("Get(%s) =\n%s\nwant\n%s", want.ID, canon(t, got), canon(t, want))
		}
	}
	if err := s.Put(ctxT(t), nil); err != nil {
		t.Errorf("Put(nil) = %v", err)
	}
}

func testGetNotFound(t *testing.T, s store.Store) {
	_, err := s.Get(ctxT(t), job.NewID(base))
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(unknown) err = %v, want ErrNotFound", err)
	}
}

// testNewerAttempt: a dead-lettered job that an operator re-queues finishes
// again later; its newer result replaces the stored one, and replaying the
// older one afterwards changes nothing.
func testNewerAttempt(t *testing.T, s store.Store) {
	old := Sub(base, job.StatusInternalError, "python", "k", 10)
	put(t, s, old)
	newer := Sub(base, job.StatusAccepted, "python", "k", 12)
	newer.ID, newer.CreatedAt = old.ID, old.CreatedAt
	newer.FinishedAt = old.FinishedAt.Add(time.Minute)
	res := *newer.Result
	res.FinishedAt = newer.FinishedAt
	newer.Result = &res
	put(t, s, newer)
	put(t, s, old)
	if got := mustGet(t, s, old.ID); canon(t, got) != canon(t, newer) {
		t.Errorf("Get = %s, want the newer attempt %s", canon(t, got), canon(t, newer))
	}
	// Both attempts in one batch: the newer wins whatever the order.
	other := Sub(base.Add(time.Second), job.StatusInternalError, "python", "k", 10)
	otherNewer := other
	otherNewer.Status = job.StatusAccepted
	otherNewer.FinishedAt = other.FinishedAt.Add(time.Minute)
	put(t, s, otherNewer, other)
	if got := mustGet(t, s, other.ID); got.Status != job.StatusAccepted {
		t.Errorf("batch with two attempts stored %s, want the newer (accepted)", got.Status)
	}
}

func testIdempotentReplay(t *testing.T, s store.Store) {
	a := Sub(base, job.StatusAccepted, "python", "k", 10)
	put(t, s, a)
	replay := a
	replay.Status = job.StatusWrongAnswer
	res := *a.Result
	res.Status = job.StatusWrongAnswer
	replay.Result = &res
	// Replayed alone, and duplicated inside one batch with a new one.
	put(t, s, replay)
	b := Sub(base.Add(time.Second), job.StatusAccepted, "python", "k", 10)
	put(t, s, a, b, b, replay)
	if got := mustGet(t, s, a.ID); canon(t, got) != canon(t, a) {
		t.Errorf("after replay Get = %s, want the first write %s", canon(t, got), canon(t, a))
	}
	page, err := s.List(ctxT(t), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if ids := idsOf(page.Items); !slices.Equal(ids, []string{b.ID, a.ID}) {
		t.Errorf("List ids = %v, want [%s %s]", ids, b.ID, a.ID)
	}
	st, err := s.Stats(ctxT(t), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 2 || st.ByStatus[job.StatusAccepted] != 2 {
		t.Errorf("Stats = %+v, want 2 accepted", st)
	}
}

func idsOf(subs []job.Submission) []string {
	ids := make([]string, len(subs))
	for i, s := range subs {
		ids[i] = s.ID
	}
	return ids
}

// listAll pages through f with the given page size.
func listAll(t *testing.T, s store.Store, f store.Filter) []string {
	t.Helper()
	var ids []string
	for range 1000 {
		page, err := s.List(ctxT(t), f)
		if err != nil {
			t.Fatalf("List(%+v): %v", f, err)
		}
		ids = append(ids, idsOf(page.Items)...)
		if page.NextCursor == "" {
			return ids
		}
		f.Cursor = page.NextCursor
	}
	t.Fatal("List never ended")
	return nil
}

func testListFilters(t *testing.T, s store.Store) {
	subs := []job.Submission{
		Sub(base.Add(1*time.Minute), job.StatusAccepted, "python", "alice", 1),
		Sub(base.Add(2*time.Minute), job.StatusWrongAnswer, "python", "bob", 1),
		Sub(base.Add(3*time.Minute), job.StatusAccepted, "c", "alice", 1),
		Sub(base.Add(4*time.Minute), job.StatusCompilationError, "c", "", 1),
		Sub(base.Add(5*time.Minute), job.StatusAccepted, "bash", "bob", 1),
	}
	subs[3].Result.Run, subs[3].Result.Tests = nil, nil
	put(t, s, subs...)
	id := func(i ...int) []string {
		var out []string
		for j := len(i) - 1; j >= 0; j-- { // newest first
			out = append(out, subs[i[j]].ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"all", store.Filter{}, id(0, 1, 2, 3, 4)},
		{"status", store.Filter{Status: job.StatusAccepted}, id(0, 2, 4)},
		{"language", store.Filter{Language: "c"}, id(2, 3)},
		{"api key", store.Filter{APIKeyID: "alice"}, id(0, 2)},
		{"status and language", store.Filter{Status: job.StatusAccepted, Language: "python"}, id(0)},
		{"since inclusive", store.Filter{Since: base.Add(3 * time.Minute)}, id(2, 3, 4)},
		{"until exclusive", store.Filter{Until: base.Add(3 * time.Minute)}, id(0, 1)},
		{"range", store.Filter{Since: base.Add(2 * time.Minute), Until: base.Add(4*time.Minute + time.Second)}, id(1, 2, 3)},
		{"no match", store.Filter{Language: "cobol"}, nil},
		{"paged", store.Filter{Limit: 2}, id(0, 1, 2, 3, 4)},
		{"paged with filter", store.Filter{Limit: 1, APIKeyID: "bob"}, id(1, 4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := listAll(t, s, tt.f); !slices.Equal(got, tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}
}

func testPagination(t *testing.T, s store.Store) {
	var subs []job.Submission
	for i := range 23 {
		// Groups of three share a finish time: the id breaks the tie.
		subs = append(subs, Sub(base.Add(time.Duration(i/3)*time.Second), job.StatusAccepted, "python", "", 1))
	}
	put(t, s, subs...)
	sorted := slices.Clone(subs)
	slices.SortStableFunc(sorted, func(a, b job.Submission) int {
		if c := b.FinishedAt.Compare(a.FinishedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	want := idsOf(sorted)
	for _, size := range []int{1, 4, 23, 100} {
		if got := listAll(t, s, store.Filter{Limit: size}); !slices.Equal(got, want) {
			t.Errorf("page size %d: ids = %v, want %v", size, got, want)
		}
	}
	page, err := s.List(ctxT(t), store.Filter{Limit: 23})
	if err != nil {
		t.Fatal(err)
	}
	if page.NextCursor != "" {
		t.Errorf("exactly one full page: NextCursor = %q, want none", page.NextCursor)
	}
}

// testPaginationConcurrent pages through the existing rows while newer rows
// are being inserted: every existing row appears exactly once, in order.
func testPaginationConcurrent(t *testing.T, s store.Store) {
	var subs []job.Submission
	for i := range 60 {
		subs = append(subs, Sub(base.Add(time.Duration(i)*time.Second), job.StatusAccepted, "python", "", 1))
	}
	put(t, s, subs...)
	// Take the first page before any insert, then page on while they land.
	f := store.Filter{Limit: 7}
	first, err := s.List(ctxT(t), f)
	if err != nil {
		t.Fatal(err)
	}
	got := idsOf(first.Items)
	f.Cursor = first.NextCursor
	ctx, cancel := context.WithCancel(ctxT(t))
	var wg sync.WaitGroup
	wg.Add(1)
	inserted := make(chan struct{}, 1)
	go func() {
		defer wg.Done()
		defer close(inserted) // pages stop waiting once inserts end
		for i := 0; ctx.Err() == nil && i < 500; i++ {
			n := Sub(base.Add(time.Hour+time.Duration(i)*time.Millisecond), job.StatusAccepted, "python", "", 1)
			if err := s.Put(ctx, []job.Submission{n}); err != nil && ctx.Err() == nil {
				t.Errorf("concurrent Put: %v", err)
				return
			}
			select {
			case inserted <- struct{}{}:
			default:
			}
		}
	}()
	for f.Cursor != "" {
		select {
		case <-inserted: // let inserts land between pages
		case <-ctx.Done():
		}
		page, err := s.List(ctxT(t), f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, idsOf(page.Items)...)
		f.Cursor = page.NextCursor
	}
	cancel()
	wg.Wait()
	slices.Reverse(subs)
	if want := idsOf(subs); !slices.Equal(got, want) {
		t.Errorf("paged ids under concurrent inserts:\n got %v\nwant %v", got, want)
	}
}

func testBadCursor(t *testing.T, s store.Store) {
	// A well-formed cursor whose id holds a NUL (PostgreSQL refuses NUL in
	// text: it used to surface as a 502) or is not a submission id.
	nul := base64.RawURLEncoding.EncodeToString([]byte("1700000000000000.01a21a83-61c7-7d97-be69-b9a88feb754\x00"))
	other := base64.RawURLEncoding.EncodeToString([]byte("1700000000000000.x"))
	for _, c := range []string{"!!!", "bm90LWEtY3Vyc29y", nul, other} {
		if _, err := s.List(ctxT(t), store.Filter{Cursor: c}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("List(cursor %q) err = %v, want ErrInvalid", c, err)
		}
	}
}

func testStats(t *testing.T, s store.Store) {
	var subs []job.Submission
	for i := 1; i <= 100; i++ {
		st, lang := job.StatusAccepted, "python"
		if i%4 == 0 {
			st, lang = job.StatusTimeLimit, "c"
		}
		subs = append(subs, Sub(base.Add(time.Duration(i)*time.Second), st, lang, "", float64(i)))
	}
	ce := Sub(base.Add(time.Minute), job.StatusCompilationError, "c", "", 0)
	ce.Result.Run, ce.Result.Tests = nil, nil // no run: not in percentiles
	old := Sub(base.Add(-time.Hour), job.StatusAccepted, "bash", "", 10000)
	put(t, s, append(subs, ce, old)...)

	st, err := s.Stats(ctxT(t), base)
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 101 {
		t.Errorf("Total = %d, want 101", st.Total)
	}
	wantStatus := map[job.Status]int64{job.StatusAccepted: 75, job.StatusTimeLimit: 25, job.StatusCompilationError: 1}
	if fmt.Sprint(st.ByStatus) != fmt.Sprint(wantStatus) {
		t.Errorf("ByStatus = %v, want %v", st.ByStatus, wantStatus)
	}
	wantLang := map[string]int64{"python": 75, "c": 26}
	if fmt.Sprint(st.ByLanguage) != fmt.Sprint(wantLang) {
		t.Errorf("ByLanguage = %v, want %v", st.ByLanguage, wantLang)
	}
	// percentile_cont over 1..100: 50.5 and 95.05.
	if !near(st.RunP50Ms, 50.5) || !near(st.RunP95Ms, 95.05) {
		t.Errorf("p50, p95 = %v, %v; want 50.5, 95.05", st.RunP50Ms, st.RunP95Ms)
	}
	all, err := s.Stats(ctxT(t), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if all.Total != 102 || all.ByLanguage["bash"] != 1 {
		t.Errorf("Stats(all) = %+v, want 102 with one bash", all)
	}
	empty, err := s.Stats(ctxT(t), base.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if empty.Total != 0 || empty.RunP50Ms != 0 || empty.RunP95Ms != 0 {
		t.Errorf("Stats(empty window) = %+v, want zeros", empty)
	}
}

func near(a, b float64) bool { d := a - b; return d < 1e-9 && d > -1e-9 }

func testRetention(t *testing.T, s store.Store) {
	var old, fresh []job.Submission
	for i := range 10 {
		old = append(old, Sub(base.Add(-time.Duration(i+1)*time.Hour), job.StatusAccepted, "python", "", 1))
	}
	for i := range 5 {
		fresh = append(fresh, Sub(base.Add(time.Duration(i)*time.Second), job.StatusAccepted, "python", "", 1))
	}
	put(t, s, append(old, fresh...)...)
	var got []int
	for range 10 {
		n, err := s.DeleteBefore(ctxT(t), base, 3)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
		if n == 0 {
			break
		}
	}
	if want := []int{3, 3, 3, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("DeleteBefore batches = %v, want %v", got, want)
	}
	for _, o := range old {
		if _, err := s.Get(ctxT(t), o.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old %s still there: %v", o.ID, err)
		}
	}
	slices.Reverse(fresh)
	if ids := listAll(t, s, store.Filter{}); !slices.Equal(ids, idsOf(fresh)) {
		t.Errorf("after retention ids = %v, want the fresh ones %v", ids, idsOf(fresh))
	}
}

func testNUL(t *testing.T, s store.Store) {
	a := Sub(base, job.StatusRuntimeError, "python", "key\x00x", 3)
	a.Request.Stdin = "a\x00b\x00"
	a.Request.Args = []string{"\x00"}
	a.Request.Metadata = map[string]string{"k\x00": "v\x00v"}
	a.Request.Files = []job.File{
		{Name: "main.py", Content: "print('\x00')"},
		{Name: "blob.bin", Content: "AP/+gA==", Encoding: job.EncodingBase64},
	}
	a.Request.Tests = []job.TestCase{{Stdin: "\x00\x01"}}
	a.Result.Message = "died with \x00 in the message"
	raw := []byte{0, 1, 2, 0xff, 0xfe, 'o', 'k', 0, 0xc3}
	a.Result.Run.Stdout = job.NewOutput(raw, false)
	a.Result.Run.Stderr = job.NewOutput([]byte("plain\x00"), false)
	put(t, s, a)
	got := mustGet(t, s, a.ID)
	if canon(t, got) != canon(t, a) {
		t.Fatalf("NUL round trip:\n got %s\nwant %s", canon(t, got), canon(t, a))
	}
	out, err := got.Result.Run.Stdout.Bytes()
	if err != nil || !bytes.Equal(out, raw) {
		t.Errorf("stdout bytes = %v, %v; want %v", out, err, raw)
	}
	if got.Request.Stdin != "a\x00b\x00" || got.Request.Metadata["k\x00"] != "v\x00v" {
		t.Errorf("stdin %q metadata %q lost NUL", got.Request.Stdin, got.Request.Metadata)
	}
}

func testLargeOutput(t *testing.T, s store.Store) {
	a := Sub(base, job.StatusAccepted, "python", "", 3)
	big := strings.Repeat("é0123456789", 200_000) // ~2.4 MB of UTF-8
	a.Result.Run.Stdout = job.NewOutput([]byte(big), false)
	bin := bytes.Repeat([]byte{0, 0xff}, 1_000_000)
	a.Result.Run.Stderr = job.NewOutput(bin, false)
	put(t, s, a)
	got := mustGet(t, s, a.ID)
	for _, c := range []struct {
		name      string
		out       job.Output
		orig      []byte
		origTrunc bool
	}{
		{"stdout", got.Result.Run.Stdout, []byte(big), false},
		{"stderr", got.Result.Run.Stderr, bin, false},
	} {
		b, err := c.out.Bytes()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.HasPrefix(c.orig, b) {
			t.Errorf("%s: stored %d bytes are not a prefix of the output", c.name, len(b))
		}
		if len(b) < len(c.orig) && !c.out.Truncated {
			t.Errorf("%s: cut from %d to %d bytes but not flagged Truncated", c.name, len(c.orig), len(b))
		}
		if c.out.Encoding == "" && !strings.HasPrefix(big, c.out.Text) {
			t.Errorf("%s: text cut inside a rune", c.name)
		}
	}
	if got.ID != a.ID || got.Result.Run.WallTimeMs != 3 {
		t.Errorf("rest of the submission changed: %+v", got.Result.Run)
	}
}
