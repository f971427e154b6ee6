package worker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/registry"
)

// capExecutor reports a fixed capacity (or an error) and runs nothing.
type capExecutor struct {
	url  string
	free int
	err  error
}

func (c *capExecutor) Execute(context.Context, job.Job) (job.Result, error) {
	return job.Result{Executor: c.url}, nil
}
func (c *capExecutor) Cancel(context.Context, string) error { return nil }
func (c *capExecutor) Capacity(context.Context) (executor.Capacity, error) {
	return executor.Capacity{Slots: c.free}, c.err
}

// fakeRegistry is the registry's List with entries the test sets.
type fakeRegistry struct {
	mu      sync.Mutex
	entries []registry.Entry
	err     error
}

func (f *fakeRegistry) set(err error, es ...registry.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries, f.err = es, err
}

func (f *fakeRegistry) list(context.Context) ([]registry.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.entries, f.err
}

// clock is a manual clock: each tick moves it past the picker's ttl, so
// the next pick re-reads the registry and the capacities.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }
func (c *clock) tick()          { c.t = c.t.Add(time.Second) }

type pickerBundle struct {
	p     *picker
	reg   *fakeRegistry
	clock *clock
	exs   map[string]*capExecutor // by URL, as dialed
}

func newTestPicker(t *testing.T, static ...*capExecutor) *pickerBundle {
	t.Helper()
	b := &pickerBundle{reg: &fakeRegistry{}, clock: &clock{t: time.Unix(1e9, 0)}, exs: map[string]*capExecutor{}}
	var exs []executor.Executor
	var urls []string
	for _, s := range static {
		exs = append(exs, s)
		urls = append(urls, s.url)
	}
	b.p = newPicker(exs, urls, pickerConfig{
		ttl: 500 * time.Millisecond, now: b.clock.now, list: b.reg.list,
		dial: func(u string) executor.Executor {
			if b.exs[u] == nil {
				t.Fatalf("dialed %s, which the test did not set up", u)
			}
			return b.exs[u]
		},
	})
	return b
}

func (b *pickerBundle) executor(url string, free int) *capExecutor {
	c := &capExecutor{url: url, free: free}
	b.exs[url] = c
	return c
}

func entry(name, url string, healthy bool, langs ...string) registry.Entry {
	return registry.Entry{Name: name, URL: url, Slots: 4, Healthy: healthy, Languages: langs}
}

func pickedURL(t *testing.T, b *pickerBundle, lang string) string {
	t.Helper()
	b.clock.tick()
	ex, m := b.p.pickFor(context.Background(), lang)
	if ex == nil || m == nil {
		t.Fatal("pick returned nil")
	}
	if c, ok := ex.(*capExecutor); ok {
		return c.url
	}
	return "none"
}

func TestPickerFollowsTheRegistry(t *testing.T) {
	t.Parallel()
	b := newTestPicker(t)
	// Nobody announced yet: the job waits (busy), it does not fail.
	ex, _ := b.p.pick(context.Background())
	var busy *executor.BusyError
	if _, err := ex.Execute(context.Background(), job.Job{}); !errors.As(err, &busy) {
		t.Fatalf("with no executor Execute = %v, want busy", err)
	}

	b.executor("http://a", 1)
	b.executor("http://b", 3)
	b.reg.set(nil, entry("a", "http://a", true), entry("b", "http://b", true))
	if got := pickedURL(t, b, ""); got != "http://b" {
		t.Errorf("picked %s, want http://b (most free)", got)
	}
	// A third one joins with more room: used without reconfiguring.
	b.executor("http://c", 8)
	b.reg.set(nil, entry("a", "http://a", true), entry("b", "http://b", true), entry("c", "http://c", true))
	if got := pickedURL(t, b, ""); got != "http://c" {
		t.Errorf("picked %s after c joined, want http://c", got)
	}
	// c's entry expires (or it withdrew): never picked again.
	b.reg.set(nil, entry("a", "http://a", true), entry("b", "http://b", true))
	for range 5 {
		if got := pickedURL(t, b, ""); got == "http://c" {
			t.Fatal("picked http://c after it left the registry")
		}
	}
	if n := b.p.len(); n != 2 {
		t.Errorf("picker knows %d executors, want 2", n)
	}
	// The registry unreadable: keep what is known.
	b.reg.set(errors.New("redis down"))
	if got := pickedURL(t, b, ""); got != "http://b" {
		t.Errorf("picked %s while the registry is down, want http://b (still known)", got)
	}
}

func TestPickerPrefersHealthyAnsweringWithTheLanguage(t *testing.T) {
	t.Parallel()
	b := newTestPicker(t)
	b.executor("http://sick", 9)
	b.executor("http://dead", 9).err = errors.New("connection refused")
	b.executor("http://py", 1)
	b.executor("http://c", 5)
	b.reg.set(nil, entry("sick", "http://sick", false, "python", "c"), entry("dead", "http://dead", true, "python", "c"),
		entry("py", "http://py", true, "python"), entry("c", "http://c", true, "c"))
	for lang, want := range map[string]string{"python": "http://py", "c": "http://c", "": "http://c"} {
		if got := pickedURL(t, b, lang); got != want {
			t.Errorf("pickFor(%q) = %s, want %s", lang, got, want)
		}
	}
	// A language nobody has: still picked (its error names the image).
	if got := pickedURL(t, b, "cobol"); got != "http://c" {
		t.Errorf("pickFor(cobol) = %s, want the freest healthy one", got)
	}
}

func TestPickerStaticAndDiscovered(t *testing.T) {
	t.Parallel()
	static := &capExecutor{url: "http://static", free: 2}
	b := newTestPicker(t, static)
	b.executor("http://static", 2)
	b.executor("http://new", 6)
	// The static executor announces itself too: one member, not two.
	b.reg.set(nil, entry("static", "http://static", true), entry("new", "http://new", true))
	if got := pickedURL(t, b, ""); got != "http://new" {
		t.Errorf("picked %s, want http://new", got)
	}
	if n := b.p.len(); n != 2 {
		t.Errorf("picker knows %d executors, want 2 (static + new)", n)
	}
	// Every discovered one leaves: the static one stays.
	b.reg.set(nil)
	if got := pickedURL(t, b, ""); got != "http://static" {
		t.Errorf("picked %s, want the static executor", got)
	}
}

// Jobs started on one executor count against its free slots until the
// next capacity reading, so a burst spreads.
func TestPickerSpreadsABurst(t *testing.T) {
	t.Parallel()
	b := newTestPicker(t)
	b.executor("http://a", 2)
	b.executor("http://b", 2)
	b.reg.set(nil, entry("a", "http://a", true), entry("b", "http://b", true))
	b.clock.tick()
	count := map[string]int{}
	for range 4 {
		ex, m := b.p.pick(context.Background())
		b.p.started(m)
		count[ex.(*capExecutor).url]++
	}
	if count["http://a"] != 2 || count["http://b"] != 2 {
		t.Errorf("burst of 4 went %v, want 2 each", count)
	}
}
