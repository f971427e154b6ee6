package sandbox

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/execbox/app/pkg/catalog"
)

// The warm pool follows demand. With dozens of languages a fixed idle
// container per language wastes memory, so:
//
//   - pinned languages (Config.PoolLanguages) always keep PoolSize idle
//     sandboxes, as before;
//   - every other language is warm only while it is in use: after a job of
//     it ran within PoolWindow, it keeps one idle sandbox, and more (up to
//     PoolSize) when its recent rate says that several jobs arrive within
//     one container start;
//   - all idle sandboxes together stay within PoolTotal: pinned languages
//     first, then one each for the recently used languages by rate (the
//     busiest first), then the extras by rate;
//   - a language that falls out of the window, or out of the cap, has its
//     idle sandboxes removed.
//
// The recent rate is an exponentially decayed count of jobs (half-life
// PoolWindow/4), so a burst raises it at once and idle time lowers it
// smoothly. PoolSize 0 turns the pool off.

// demand tracks how often each language ran recently.
type demand struct {
	halfLife time.Duration

	mu    sync.Mutex
	langs map[string]*usage
}

type usage struct {
	score float64   // decayed count of jobs at time at
	at    time.Time // when score was last brought up to date
	last  time.Time // last job
}

// langStat is one language's recent demand.
type langStat struct {
	rate float64 // jobs per second, decayed
	last time.Time
}

func newDemand(halfLife time.Duration) *demand {
	return &demand{halfLife: halfLife, langs: map[string]*usage{}}
}

func (dm *demand) decay(u *usage, now time.Time) {
	if dt := now.Sub(u.at); dt > 0 {
		u.score *= math.Exp2(-dt.Seconds() / dm.halfLife.Seconds())
		u.at = now
	}
}

// observe records one job of language id at now.
func (dm *demand) observe(id string, now time.Time) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	u := dm.langs[id]
	if u == nil {
		u = &usage{at: now}
		dm.langs[id] = u
	}
	dm.decay(u, now)
	u.score++
	u.last = now
}

// snapshot returns every observed language's rate at now.
func (dm *demand) snapshot(now time.Time) map[string]langStat {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	out := make(map[string]langStat, len(dm.langs))
	for id, u := range dm.langs {
		dm.decay(u, now)
		// In a steady state of r jobs/s the decayed count is r*halfLife/ln 2.
		out[id] = langStat{rate: u.score * math.Ln2 / dm.halfLife.Seconds(), last: u.last}
	}
	return out
}

// poolPolicy sizes the warm pool.
type poolPolicy struct {
	perLanguage int           // most idle sandboxes of one language
	total       int           // most idle sandboxes overall
	window      time.Duration // a language is warm this long after its last job
	startup     time.Duration // how long one sandbox takes to start
}

// targets returns how many idle sandboxes each language should have now
// (languages not in the result: none).
func (p poolPolicy) targets(pinned []string, stats map[string]langStat, now time.Time) map[string]int {
	out := map[string]int{}
	budget := p.total
	for _, id := range pinned {
		n := min(p.perLanguage, budget)
		if n <= 0 {
			break
		}
		out[id] = n
		budget -= n
	}
	type cand struct {
		id   string
		rate float64
		want int
	}
	var recent []cand
	for id, s := range stats {
		if _, isPinned := out[id]; isPinned || now.Sub(s.last) > p.window {
			continue
		}
		// Enough idle sandboxes for the jobs that arrive while one starts,
		// twice over for bursts.
		want := int(math.Ceil(2 * s.rate * p.startup.Seconds()))
		recent = append(recent, cand{id: id, rate: s.rate, want: min(max(want, 1), p.perLanguage)})
	}
	sort.Slice(recent, func(i, j int) bool {
		if recent[i].rate != recent[j].rate {
			return recent[i].rate > recent[j].rate
		}
		return recent[i].id < recent[j].id
	})
	for _, c := range recent {
		if budget == 0 {
			break
		}
		out[c.id] = 1
		budget--
	}
	for _, c := range recent {
		if budget == 0 {
			break
		}
		if _, ok := out[c.id]; !ok {
			continue
		}
		extra := min(c.want-1, budget)
		out[c.id] += extra
		budget -= extra
	}
	return out
}

// pool holds up to PoolSize started, idle sandboxes of one language, sized
// for the language's default limits. A taken sandbox is never returned: it
// serves one job and is removed; the pool manager refills.
type pool struct {
	d    *Driver
	lang catalog.Language
	need need
	idle chan *sandbox
}

func newPool(d *Driver, lang catalog.Language) *pool {
	return &pool{d: d, lang: lang, need: d.languageNeed(lang), idle: make(chan *sandbox, d.cfg.PoolSize)}
}

// take returns a live idle sandbox, or nil.
func (p *pool) take() *sandbox {
	defer p.d.kickPools()
	for {
		select {
		case sb := <-p.idle:
			p.d.metrics.poolIdle.WithLabelValues(p.lang.ID).Dec()
			if sb.alive() {
				p.d.metrics.poolHits.WithLabelValues(p.lang.ID, "hit").Inc()
				return sb
			}
			p.d.discard(sb)
		default:
			p.d.metrics.poolHits.WithLabelValues(p.lang.ID, "miss").Inc()
			return nil
		}
	}
}

// shrink removes idle sandboxes beyond n.
func (p *pool) shrink(n int) {
	for len(p.idle) > n {
		select {
		case sb := <-p.idle:
			p.d.metrics.poolIdle.WithLabelValues(p.lang.ID).Dec()
			p.d.discard(sb)
		default:
			return
		}
	}
}

func (d *Driver) kickPools() {
	select {
	case d.poolKick <- struct{}{}:
	default:
	}
}

// runPools keeps every pool at its target until ctx ends, then removes the
// idle sandboxes. One loop decides and refills, so the cap holds.
func (d *Driver) runPools(ctx context.Context) {
	pools := map[string]*pool{}
	for _, l := range d.cfg.Catalog.All() {
		pools[l.ID] = newPool(d, l)
	}
	d.mu.Lock()
	d.pools = pools
	d.mu.Unlock()
	defer func() {
		for _, p := range pools {
			p.shrink(0)
		}
	}()
	policy := poolPolicy{perLanguage: d.cfg.PoolSize, total: d.cfg.PoolTotal, window: d.cfg.PoolWindow, startup: 500 * time.Millisecond}
	retryAt := map[string]time.Time{}
	backoff := map[string]time.Duration{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		now := time.Now()
		targets := policy.targets(d.cfg.PoolLanguages, d.demand.snapshot(now), now)
		for id, p := range pools {
			p.shrink(targets[id])
		}
		// Refill the languages below target, busiest first (targets is
		// ordered by the policy, but a map: order by deficit instead).
		ids := make([]string, 0, len(targets))
		for id := range targets {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			p := pools[id]
			if p == nil || now.Before(retryAt[id]) || !d.images.present(ctx, p.lang.Image) {
				continue
			}
			for len(p.idle) < targets[id] && ctx.Err() == nil {
				start := time.Now()
				sb, err := d.create(ctx, p.lang, p.need, "")
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					b := min(max(2*backoff[id], time.Second), 30*time.Second)
					backoff[id], retryAt[id] = b, time.Now().Add(b)
					d.log.Warn("warm pool refill failed", "language", id, "err", err, "retry_in", b)
					break
				}
				delete(backoff, id)
				// Keep the start-up estimate current (weight 1/4 to the newest).
				policy.startup = (3*policy.startup + time.Since(start)) / 4
				p.idle <- sb
				d.metrics.poolIdle.WithLabelValues(id).Inc()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-d.poolKick:
		case <-tick.C:
		}
	}
}
