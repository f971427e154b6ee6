// Package registry is where executors announce themselves and workers find
// them: one key per executor in Redis (the queue's, under its key prefix)
// holding its URL, capacity, languages and health, written again every few
// seconds with a time to live, plus a set naming the executors. An executor
// that stops withdraws its key; one that dies (kill -9, a lost node) drops
// out when its key expires. Workers read the live entries, so executors come
// and go without reconfiguring or restarting a worker.
//
// Redis keys (prefix "execbox" by default):
//
//	<prefix>:executors            set of executor names
//	<prefix>:executor:<name>      JSON Entry, expires after the TTL
//
// The keys need nothing else of Redis, so executors and workers can use a
// Redis ACL user restricted to them:
//
//	ACL SETUSER registry on >PASSWORD ~execbox:executor* +@read +@write +@connection +multi +exec
package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Entry is what one executor announces.
type Entry struct {
	// Name is the executor's instance name (its sandboxes' label).
	Name string `json:"name"`
	// URL is where workers reach its internal API.
	URL string `json:"url"`
	// Slots and Busy are its capacity when it announced.
	Slots int `json:"slots"`
	Busy  int `json:"busy"`
	// Languages are the language ids whose image it has.
	Languages []string `json:"languages"`
	// Healthy is false while its Docker Engine does not answer (Error says
	// why); workers pick it only when healthy.
	Healthy bool   `json:"healthy"`
	Error   string `json:"error,omitempty"`
	// At is when it announced (its clock).
	At time.Time `json:"at"`
}

// Free returns the free slots it announced.
func (e Entry) Free() int { return e.Slots - e.Busy }

// Has reports whether it announced the language (any, if lang is empty).
func (e Entry) Has(lang string) bool {
	if lang == "" {
		return true
	}
	return slices.Contains(e.Languages, lang)
}

// Validate checks what a worker relies on.
func (e Entry) Validate() error {
	switch {
	case e.Name == "" || strings.ContainsAny(e.Name, " \t\r\n"):
		return fmt.Errorf("registry: executor name %q: want a non-empty name without spaces", e.Name)
	case !strings.HasPrefix(e.URL, "http://") && !strings.HasPrefix(e.URL, "https://"):
		return fmt.Errorf("registry: executor %s: url %q: want http:// or https://", e.Name, e.URL)
	case e.Slots < 0 || e.Busy < 0:
		return fmt.Errorf("registry: executor %s: negative capacity", e.Name)
	}
	return nil
}

// DefaultTTL is how long an announcement lives; executors announce every
// third of it.
const DefaultTTL = 6 * time.Second

// Registry is the executor registry in Redis.
type Registry struct {
	rdb    redis.UniversalClient
	set    string
	keyP   string
	prefix string
}

// New returns the registry on rdb under prefix (the queue's key prefix).
func New(rdb redis.UniversalClient, prefix string) *Registry {
	p := strings.TrimSuffix(prefix, ":") + ":"
	return &Registry{rdb: rdb, set: p + "executors", keyP: p + "executor:", prefix: p}
}

// Announce writes e with a time to live of ttl (DefaultTTL if not positive).
func (r *Registry) Announce(ctx context.Context, e Entry, ttl time.Duration) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	_, err = r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, r.keyP+e.Name, data, ttl)
		p.SAdd(ctx, r.set, e.Name)
		return nil
	})
	if err != nil {
		return fmt.Errorf("registry: announce %s: %w", e.Name, err)
	}
	return nil
}

// Withdraw removes the executor's entry at once (a clean shutdown).
func (r *Registry) Withdraw(ctx context.Context, name string) error {
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, r.keyP+name)
		p.SRem(ctx, r.set, name)
		return nil
	})
	if err != nil {
		return fmt.Errorf("registry: withdraw %s: %w", name, err)
	}
	return nil
}

// List returns the live entries, sorted by name; names whose key expired
// are dropped from the set.
func (r *Registry) List(ctx context.Context) ([]Entry, error) {
	names, err := r.rdb.SMembers(ctx, r.set).Result()
	if err != nil {
		return nil, fmt.Errorf("registry: list: %w", err)
	}
	if len(names) == 0 {
		return nil, nil
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = r.keyP + n
	}
	vals, err := r.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("registry: list: %w", err)
	}
	var out []Entry
	var gone []any
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			gone = append(gone, names[i])
			continue
		}
		var e Entry
		if err := json.Unmarshal([]byte(s), &e); err != nil || e.Validate() != nil {
			continue // not ours to judge further; never picked
		}
		out = append(out, e)
	}
	if len(gone) > 0 {
		// Best effort: a name re-announced meanwhile is added again next time.
		_ = r.rdb.SRem(ctx, r.set, gone...).Err()
	}
	sortEntries(out)
	return out, nil
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
}

// Snapshot returns an executor's current entry.
type Snapshot func(ctx context.Context) Entry

// Run announces snapshot() every ttl/3 until ctx ends, then withdraws the
// entry. Failed announcements are logged and retried; the entry expires
// meanwhile if Redis stays away, which is what a worker should see.
func (r *Registry) Run(ctx context.Context, ttl time.Duration, snapshot Snapshot, log *slog.Logger) error {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	interval := ttl / 3
	name := ""
	announce := func() {
		actx, cancel := context.WithTimeout(ctx, interval)
		defer cancel()
		e := snapshot(actx)
		e.At = time.Now().UTC()
		name = e.Name
		if err := r.Announce(actx, e, ttl); err != nil && ctx.Err() == nil {
			log.Warn("executor announcement failed; retrying", "err", err, "retry_in", interval)
		}
	}
	announce()
	log.Info("executor announced", "name", name, "registry", r.prefix, "ttl", ttl)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if err := r.Withdraw(wctx, name); err != nil {
				log.Warn("executor withdrawal failed; its entry expires by itself", "err", err, "ttl", ttl)
			}
			return nil
		case <-t.C:
			announce()
		}
	}
}
