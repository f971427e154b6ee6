// Package migrate reads the numbered SQL migrations a store embeds.
//
// Both SQL stores apply their migrations with a very small explicit runner
// (pkg/pgstore, pkg/sqlitestore) instead of a migration library: the needs
// are tiny (forward-only, embedded files, a schema_migrations table, one lock
// per database: pg_advisory_lock in PostgreSQL, BEGIN IMMEDIATE in SQLite),
// and the libraries that do this (golang-migrate, goose) pull in drivers and
// dependencies for every database, grow the static binary and hide the
// locking we need to reason about. The runner is about forty lines per store.
package migrate

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one forward step of the schema.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Load reads dir in fsys: files named NNNN_name.sql, applied in version order.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}
