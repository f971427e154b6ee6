package sandbox

import (
	"reflect"
	"testing"
	"time"
)

func TestPoolPolicyTargets(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	p := poolPolicy{perLanguage: 3, total: 5, window: 10 * time.Minute, startup: 500 * time.Millisecond}
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, tc := range []struct {
		name   string
		pinned []string
		stats  map[string]langStat
		want   map[string]int
	}{
		{name: "nothing used, nothing warm", want: map[string]int{}},
		{name: "pinned languages keep the per-language size", pinned: []string{"python"},
			want: map[string]int{"python": 3}},
		{name: "a recent language gets one",
			stats: map[string]langStat{"go": {rate: 0.01, last: ago(time.Minute)}},
			want:  map[string]int{"go": 1}},
		{name: "outside the window: cold",
			stats: map[string]langStat{"go": {rate: 0.01, last: ago(11 * time.Minute)}},
			want:  map[string]int{}},
		{name: "a busy language gets more, up to the per-language size",
			stats: map[string]langStat{"c": {rate: 2, last: ago(time.Second)}, "go": {rate: 0.5, last: ago(time.Second)}},
			want:  map[string]int{"c": 2, "go": 1}},
		{name: "the cap goes to the busiest, one each first",
			stats: map[string]langStat{
				"a": {rate: 10, last: now}, "b": {rate: 5, last: now}, "c": {rate: 1, last: now},
				"d": {rate: 0.5, last: now}, "e": {rate: 0.1, last: now}, "f": {rate: 0.01, last: now},
			},
			want: map[string]int{"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}},
		{name: "pinned count against the cap",
			pinned: []string{"python"},
			stats:  map[string]langStat{"a": {rate: 10, last: now}, "b": {rate: 0.1, last: now}, "c": {rate: 0.01, last: now}},
			want:   map[string]int{"python": 3, "a": 1, "b": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := p.targets(tc.pinned, tc.stats, now)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("targets = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDemandRate(t *testing.T) {
	t.Parallel()
	dm := newDemand(time.Minute)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range 60 {
		dm.observe("c", now.Add(time.Duration(i)*time.Second))
	}
	end := now.Add(59 * time.Second)
	busy := dm.snapshot(end)["c"]
	if busy.rate < 0.3 || busy.rate > 1.5 || !busy.last.Equal(end) {
		t.Errorf("after a job a second for a minute: rate %.2f/s, last %v; want about 0.7/s", busy.rate, busy.last)
	}
	later := dm.snapshot(end.Add(2 * time.Minute))["c"]
	if want := busy.rate / 4; later.rate < want*0.99 || later.rate > want*1.01 {
		t.Errorf("two half-lives later: rate %.3f/s, want a quarter of %.3f", later.rate, busy.rate)
	}
}
