// Package runtimes holds the recipes of the sandbox images the embedded
// language catalog runs on, and the builder that makes them through the
// Docker Engine API.
//
// A recipe is the single source of one runtime image: the Debian packages
// on top of a common base, an optional setup step, and per language a
// command that prints its version. The same recipe builds the image on a
// machine without any registry (base from mmdebstrap, imported) and on one
// with a registry (base pulled as debian:bookworm-slim), so the image a test
// ran is the image production runs: same packages, same commands.
//
// Languages that share a toolchain share an image (one GCC image for C,
// C++, Fortran, D, Objective-C, Ada, ...; one JVM image for Java, Kotlin,
// Scala, Groovy and Clojure): fewer, larger images build faster in total
// and take less disk than one image per language, because the shared
// packages (binutils, libc6-dev, a JDK) are stored once.
package runtimes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Suite is the Debian release every image is built from.
const Suite = "bookworm"

// Labels every built image carries.
const (
	// LabelRecipe is the hash of the recipe the image was built from; an
	// image whose label differs from its recipe's hash is outdated.
	LabelRecipe = "org.execbox.recipe"
	// LabelVersionPrefix + language id is the version of that language's
	// toolchain, as the toolchain itself printed it at build time.
	LabelVersionPrefix = "org.execbox.version."
)

// recipeVersion is part of every hash: bump it when the way images are
// built changes (not their package lists), so every image is rebuilt.
const recipeVersion = "1"

// imagePath is PATH in every image.
const imagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// BaseImage is the tag of the base every runtime image is built on.
const BaseImage = "execbox/runtime-base:" + Suite

// Recipe is one runtime image.
type Recipe struct {
	// Name is the group name; the image is execbox/runtime-<Name>:bookworm.
	Name string
	// Packages are the Debian packages installed (without Recommends).
	Packages []string
	// Setup is an optional shell script run as root after the packages are
	// installed (no network is needed or should be used).
	Setup string
	// Versions maps each catalog language the image serves to a shell
	// command whose output's first dotted number is the language's version.
	Versions map[string]string
}

// Image is the recipe's image reference.
func (r Recipe) Image() string { return "execbox/runtime-" + r.Name + ":" + Suite }

// Languages returns the ids of the languages the image serves, sorted.
func (r Recipe) Languages() []string {
	out := make([]string, 0, len(r.Versions))
	for id := range r.Versions {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Hash identifies what builds the image on top of a base whose hash is
// base: a change to the packages, the setup, the version commands or the
// base gives another hash, so the image is rebuilt.
func (r Recipe) Hash(base string) string {
	parts := []string{"v=" + recipeVersion, "base=" + base, "suite=" + Suite,
		"packages=" + strings.Join(r.Packages, ","), "setup=" + r.Setup}
	for _, id := range r.Languages() {
		parts = append(parts, "version."+id+"="+r.Versions[id])
	}
	return hashOf(parts...)
}

func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%s\n", p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// versionRE finds the version in a toolchain's output: the first dotted
// number ("gcc (Debian 12.2.0-14) 12.2.0" -> "12.2.0").
var versionRE = regexp.MustCompile(`[0-9]+(\.[0-9]+)+`)

// ParseVersion extracts the version from a version command's output.
func ParseVersion(out string) (string, bool) {
	v := versionRE.FindString(out)
	return v, v != ""
}

// dpkgVersion prints a package's Debian version ("1:25.2.3+dfsg-1" ->
// the parser takes "25.2.3"), for toolchains without a quick --version.
func dpkgVersion(pkg string) string { return "dpkg-query -W -f '${Version}' " + pkg }

// All returns every recipe, sorted by name.
func All() []Recipe {
	out := append([]Recipe(nil), recipes...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ByImage finds the recipe that builds image.
func ByImage(image string) (Recipe, bool) {
	for _, r := range recipes {
		if r.Image() == image {
			return r, true
		}
	}
	return Recipe{}, false
}

// ByName finds a recipe by its group name.
func ByName(name string) (Recipe, bool) {
	for _, r := range recipes {
		if r.Name == name {
			return r, true
		}
	}
	return Recipe{}, false
}

// recipes: every image of the embedded catalog. Package names and versions
// are Debian 12's; only "main" is used.
var recipes = []Recipe{
	{
		// Shells and small interpreters, plus the two entries that need no
		// toolchain at all (plain text, a prebuilt executable).
		Name:     "shell",
		Packages: []string{"bash", "zsh", "dash", "gawk", "sqlite3", "gforth"},
		Versions: map[string]string{
			"bash":       "bash --version",
			"zsh":        "zsh --version",
			"dash":       dpkgVersion("dash"),
			"awk":        "gawk --version",
			"sqlite":     "sqlite3 --version",
			"forth":      "gforth --version",
			"plaintext":  "cat --version",
			"executable": "ldd --version",
		},
	},
	{
		// The GNU toolchain and what compiles through it.
		Name: "gcc",
		Packages: []string{"gcc", "g++", "gfortran", "gdc", "gobjc", "gnat", "libc6-dev",
			"nasm", "gnucobol3", "gprolog", "nim"},
		Versions: map[string]string{
			"c":       "gcc -dumpfullversion",
			"cpp":     "g++ -dumpfullversion",
			"fortran": "gfortran -dumpfullversion",
			"d":       "gdc -dumpfullversion",
			"objc":    "gcc -dumpfullversion",
			"ada":     "gnatmake --version",
			"nasm":    "nasm -v",
			"cobol":   "cobc --version",
			"prolog":  "gprolog --version",
			"nim":     "nim --version",
		},
	},
	{
		Name:     "clang",
		Packages: []string{"clang", "libc6-dev"},
		Versions: map[string]string{
			"c-clang":   "clang --version",
			"cpp-clang": "clang++ --version",
		},
	},
	{
		Name:     "pascal",
		Packages: []string{"fpc"},
		Versions: map[string]string{"pascal": "fpc -iV"},
	},
	{
		Name:     "crystal",
		Packages: []string{"crystal", "libc6-dev"},
		Versions: map[string]string{"crystal": "crystal --version"},
	},
	{
		// One JDK for every JVM language.
		Name:     "jvm",
		Packages: []string{"openjdk-17-jdk-headless", "kotlin", "scala", "groovy", "clojure"},
		Versions: map[string]string{
			"java":    "javac -version",
			"kotlin":  dpkgVersion("kotlin"),
			"scala":   dpkgVersion("scala"),
			"groovy":  dpkgVersion("groovy"),
			"clojure": dpkgVersion("clojure"),
		},
	},
	{
		Name:     "mono",
		Packages: []string{"mono-mcs", "mono-runtime", "libmono-system-core4.0-cil", "libmono-system-numerics4.0-cil"},
		Versions: map[string]string{"csharp": "mono --version"},
	},
	{
		Name:     "python",
		Packages: []string{"python3", "pypy3"},
		Versions: map[string]string{
			"python": "python3 --version",
			"pypy":   `pypy3 -c 'import sys; print("%d.%d.%d" % sys.pypy_version_info[:3])'`,
		},
	},
	{
		Name:     "node",
		Packages: []string{"nodejs", "node-typescript", "coffeescript"},
		// Debian has no @types/node: declare the Node.js globals a
		// program reads stdin and argv with, where tsc finds types for
		// any project directory (node_modules/@types of an ancestor).
		Setup: `mkdir -p /node_modules/@types/node
cat >/node_modules/@types/node/index.d.ts <<'EOF'
// Minimal Node.js globals for tsc (execbox runtime image).
declare var require: any;
declare var process: any;
declare var module: any;
declare var exports: any;
declare var Buffer: any;
declare var global: any;
declare var __dirname: string;
declare var __filename: string;
EOF`,
		Versions: map[string]string{
			"javascript":   "node --version",
			"typescript":   "tsc --version",
			"coffeescript": "coffee --version",
		},
	},
	{
		Name:     "scripting",
		Packages: []string{"ruby", "perl", "php-cli", "lua5.4", "tcl", "rakudo"},
		Versions: map[string]string{
			"ruby": "ruby --version",
			"perl": `perl -e 'print $^V'`,
			"php":  `php -r 'echo PHP_VERSION;'`,
			"lua":  "lua5.4 -v",
			"tcl":  `echo 'puts [info patchlevel]' | tclsh`,
			"raku": "rakudo --version",
		},
	},
	{
		Name:     "go",
		Packages: []string{"golang-go", "libc6-dev"},
		Versions: map[string]string{"go": "go version"},
	},
	{
		Name:     "rust",
		Packages: []string{"rustc", "libc6-dev"},
		Versions: map[string]string{"rust": "rustc --version"},
	},
	{
		Name:     "haskell",
		Packages: []string{"ghc"},
		Versions: map[string]string{"haskell": "ghc --numeric-version"},
	},
	{
		Name:     "ocaml",
		Packages: []string{"ocaml-nox"},
		Versions: map[string]string{"ocaml": "ocamlc -version"},
	},
	{
		Name:     "lisp",
		Packages: []string{"sbcl", "racket", "guile-3.0", "chezscheme"},
		Versions: map[string]string{
			"commonlisp": "sbcl --version",
			"racket":     "racket --version",
			"scheme":     "guile --version",
			"chez":       "chezscheme --version",
		},
	},
	{
		Name:     "beam",
		Packages: []string{"erlang-base", "elixir"},
		Versions: map[string]string{
			"erlang": "cat /usr/lib/erlang/releases/*/OTP_VERSION",
			"elixir": `elixir -e 'IO.puts System.version()'`,
		},
	},
	{
		Name:     "r",
		Packages: []string{"r-base-core"},
		Versions: map[string]string{"r": "Rscript --version"},
	},
	{
		Name:     "octave",
		Packages: []string{"octave"},
		Versions: map[string]string{"octave": "octave-cli --version"},
	},
}
