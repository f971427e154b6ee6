package runtimes_test

import (
	"testing"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/runtimes"
)

// Every language of the embedded catalog runs on a recipe image, and every
// recipe's languages are catalog languages on that image: the recipes and
// the catalog cannot drift apart.
func TestRecipesCoverTheCatalog(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	for _, l := range cat.All() {
		r, ok := runtimes.ByImage(l.Image)
		if !ok {
			t.Errorf("%s: image %s has no recipe", l.ID, l.Image)
			continue
		}
		if _, ok := r.Versions[l.ID]; !ok {
			t.Errorf("%s: recipe %s has no version command for it", l.ID, r.Name)
		}
	}
	for _, r := range runtimes.All() {
		if len(r.Packages) == 0 {
			t.Errorf("recipe %s: no packages", r.Name)
		}
		for _, id := range r.Languages() {
			l, ok := cat.Lookup(id, "")
			if !ok || l.ID != id {
				t.Errorf("recipe %s: language %s is not in the catalog", r.Name, id)
			} else if l.Image != r.Image() {
				t.Errorf("recipe %s: language %s runs on %s", r.Name, id, l.Image)
			}
		}
	}
}

func TestParseVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ out, want string }{
		{"gcc (Debian 12.2.0-14) 12.2.0", "12.2.0"},
		{"v18.19.0", "18.19.0"},
		{"go version go1.19.8 linux/amd64", "1.19.8"},
		{"1:25.2.3+dfsg-1", "25.2.3"},
		{"ruby 3.1.2p20 (2022-04-12 revision 4491bb740a) [x86_64-linux-gnu]", "3.1.2"},
		{"SBCL 2.2.9.debian", "2.2.9"},
		{"no digits here", ""},
		{"version 7", ""},
	} {
		got, ok := runtimes.ParseVersion(tc.out)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("ParseVersion(%q) = %q, %v; want %q", tc.out, got, ok, tc.want)
		}
	}
}

func TestRecipeHash(t *testing.T) {
	t.Parallel()
	r, ok := runtimes.ByName("gcc")
	if !ok {
		t.Fatal("no gcc recipe")
	}
	h := r.Hash("base1")
	if h != r.Hash("base1") {
		t.Error("hash is not stable")
	}
	if h == r.Hash("base2") {
		t.Error("hash ignores the base")
	}
	r2 := r
	r2.Packages = append([]string{"extra"}, r.Packages...)
	if h == r2.Hash("base1") {
		t.Error("hash ignores the packages")
	}
	if runtimes.BaseHash(runtimes.BasePull, "debian:bookworm-slim") == runtimes.BaseHash(runtimes.BaseMmdebstrap, "") {
		t.Error("pulled and imported bases share a hash")
	}
}
