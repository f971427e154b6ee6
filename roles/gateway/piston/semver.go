package piston

import (
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/execbox/app/pkg/catalog"
)

// findRuntime picks the language a Piston (language, version) pair names as
// Piston does: among the runtimes whose name or alias is language, the
// highest version that satisfies the semver range version (x ranges, ^, ~,
// comparators, ||, *). A catalog id with an exact or "*" version is
// accepted too, as before. A range that does not parse matches nothing, as
// node's semver.satisfies answers false for it.
//
// Masterminds/semver is used because its constraint grammar is the one of
// node's semver package that Piston relies on, it is widely used and kept,
// and it has no dependencies.
func findRuntime(c *catalog.Catalog, name, version string) (catalog.Language, bool) {
	name = strings.ToLower(name)
	cons, err := semver.NewConstraint(version)
	var best catalog.Language
	var bestV *semver.Version
	if err == nil {
		for _, l := range c.All() {
			if l.Piston.Language == "" || !pistonNamed(l, name) {
				continue
			}
			v, err := pistonVersion(l.Piston.Version)
			if err != nil || !cons.Check(v) {
				continue
			}
			if bestV == nil || v.GreaterThan(bestV) {
				best, bestV = l, v
			}
		}
	}
	if bestV != nil {
		return best, true
	}
	if l, ok := c.Lookup(name, version); ok {
		return l, true
	}
	return catalog.Language{}, false
}

func pistonNamed(l catalog.Language, name string) bool {
	if l.Piston.Language == name {
		return true
	}
	for _, a := range l.Piston.Aliases {
		if a == name {
			return true
		}
	}
	return false
}

// pistonVersion parses a runtime's version as semver. A version of more
// than three parts (Mono's 6.8.0.105, GnuCOBOL's 3.1.2.0) keeps the rest as
// build metadata (6.8.0+105), which ranges ignore, so "6.x" matches it.
func pistonVersion(s string) (*semver.Version, error) {
	if parts := strings.SplitN(s, ".", 4); len(parts) == 4 && !strings.ContainsAny(parts[2], "-+") {
		s = strings.Join(parts[:3], ".") + "+" + parts[3]
	}
	return semver.NewVersion(s)
}
