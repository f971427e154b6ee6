// Package catalog is the language catalog shared by the executor (which
// image, which commands) and the gateway (which names and versions are
// valid, and how Judge0 and Piston clients refer to them).
package catalog

import (
	"cmp"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/execbox/app/pkg/job"
)

//go:embed default.json
var defaultJSON []byte

// versionsJSON maps each default language to its version as its image
// reported it when it was built (the org.execbox.version.<id> labels that
// pkg/runtimes writes). It is generated, never typed:
// EXECBOX_UPDATE_VERSIONS=1 go test ./pkg/runtimes -run TestLanguageMatrix
// rewrites it from the images, and that test fails when they differ.
//
//go:embed versions.json
var versionsJSON []byte

// Piston is how the Piston v2 API names a language.
type Piston struct {
	Language string   `json:"language"`
	Version  string   `json:"version"`
	Aliases  []string `json:"aliases,omitempty"`
}

// Language is one runtime execbox can run.
type Language struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Aliases []string `json:"aliases,omitempty"`
	Image   string   `json:"image"`
	// SourceFile is the file name a one-file submission is written to.
	SourceFile string `json:"source_file"`
	// SourceNamePattern, when set, is a regular expression with one group
	// matched against the main source: on a match the source is written to
	// that group plus SourceFile's extension (Java: the public class name,
	// so "public class Foo" compiles as Foo.java).
	SourceNamePattern string `json:"source_name_pattern,omitempty"`
	// Compile is the compile command (argv), run once in the work
	// directory; empty for interpreted languages. Compile args from the
	// request are appended. In both commands "{file}" stands for the main
	// source file's name and "{stem}" for that name without its extension;
	// with either, the main file keeps the name the client gave it when
	// that name has SourceFile's extension.
	Compile []string `json:"compile,omitempty"`
	// Run is the run command (argv); program args from the request are
	// appended.
	Run []string `json:"run"`
	// Env is extra environment for both steps ("HOME=/box").
	Env []string `json:"env,omitempty"`
	// Limits are the defaults for the run step; CompileLimits for compiling.
	Limits        job.Limits `json:"limits"`
	CompileLimits job.Limits `json:"compile_limits,omitzero"`
	Judge0IDs     []int      `json:"judge0_ids,omitempty"`
	// Piston names the language for Piston clients; its version defaults
	// to Version.
	Piston Piston `json:"piston,omitzero"`

	sourceName *regexp.Regexp
}

// SourceName returns the file name the main source must have, derived from
// its content by SourceNamePattern, or "" when the language has no
// pattern or the source does not match.
func (l Language) SourceName(source string) string {
	if l.sourceName == nil {
		return ""
	}
	m := l.sourceName.FindStringSubmatch(source)
	if len(m) < 2 || m[1] == "" {
		return ""
	}
	return m[1] + path.Ext(l.SourceFile)
}

// Catalog is an immutable set of languages.
type Catalog struct {
	langs []Language
	names map[string]int // id and aliases, lower case
}

type file struct {
	// Extend keeps the default catalog and adds or replaces by id; without
	// it the file replaces the defaults.
	Extend    bool       `json:"extend"`
	Languages []Language `json:"languages"`
}

// Default returns the catalog embedded in the binary.
func Default() *Catalog {
	c, err := parseDefault()
	if err != nil {
		panic(fmt.Sprintf("embedded catalog is invalid: %v", err))
	}
	return c
}

func parseDefault() (*Catalog, error) {
	var f file
	if err := json.Unmarshal(defaultJSON, &f); err != nil {
		return nil, err
	}
	var versions map[string]string
	if err := json.Unmarshal(versionsJSON, &versions); err != nil {
		return nil, fmt.Errorf("versions.json: %w", err)
	}
	for i, l := range f.Languages {
		if l.Version == "" {
			// A language whose image was never built yet (a new recipe)
			// says so; the matrix test fails until versions.json has it.
			f.Languages[i].Version = cmp.Or(versions[l.ID], UnknownVersion)
		}
	}
	return New(f.Languages)
}

// UnknownVersion is the version of a default language missing from
// versions.json.
const UnknownVersion = "unknown"

// DefaultVersions returns the generated language versions of the embedded
// catalog (versions.json).
func DefaultVersions() map[string]string {
	var v map[string]string
	_ = json.Unmarshal(versionsJSON, &v)
	return v
}

// LoadOrDefault is Load, or the embedded catalog when path is empty (the
// --runtimes flag unset).
func LoadOrDefault(path string) (*Catalog, error) {
	if path == "" {
		return Default(), nil
	}
	return Load(path)
}

// Load reads a runtimes file: {"extend": bool, "languages": [...]}.
func Load(path string) (*Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("runtimes file: %w", err)
	}
	c, err := Parse(b, Default())
	if err != nil {
		return nil, fmt.Errorf("runtimes file %s: %w", path, err)
	}
	return c, nil
}

// Parse parses a runtimes document; base is what "extend" extends.
func Parse(b []byte, base *Catalog) (*Catalog, error) {
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	var langs []Language
	if f.Extend && base != nil {
		langs = append(langs, base.langs...)
	}
	for _, l := range f.Languages {
		replaced := false
		for i := range langs {
			if langs[i].ID == l.ID {
				langs[i], replaced = l, true
			}
		}
		if !replaced {
			langs = append(langs, l)
		}
	}
	return New(langs)
}

// New validates langs and builds a catalog.
func New(langs []Language) (*Catalog, error) {
	c := &Catalog{names: map[string]int{}}
	var errs []error
	for i, l := range langs {
		if l.Piston.Language != "" && l.Piston.Version == "" {
			l.Piston.Version = l.Version
		}
		if l.SourceNamePattern != "" {
			re, err := regexp.Compile(l.SourceNamePattern)
			if err != nil || re.NumSubexp() != 1 {
				errs = append(errs, fmt.Errorf("languages[%d]: %s: source_name_pattern: want a regular expression with one group (%v)", i, l.ID, err))
				continue
			}
			l.sourceName = re
		}
		if err := l.validate(); err != nil {
			errs = append(errs, fmt.Errorf("languages[%d]: %w", i, err))
			continue
		}
		for _, n := range append([]string{l.ID}, l.Aliases...) {
			n = strings.ToLower(n)
			if _, dup := c.names[n]; dup {
				errs = append(errs, fmt.Errorf("languages[%d]: name %q used twice", i, n))
			}
			c.names[n] = len(c.langs)
		}
		c.langs = append(c.langs, l)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(c.langs) == 0 {
		return nil, errors.New("no languages")
	}
	return c, nil
}

func (l Language) validate() error {
	switch {
	case l.ID == "" || strings.ToLower(l.ID) != l.ID || strings.ContainsAny(l.ID, " /"):
		return fmt.Errorf("id %q: want a lower-case name", l.ID)
	case l.Version == "":
		return fmt.Errorf("%s: version is required", l.ID)
	case l.Image == "":
		return fmt.Errorf("%s: image is required", l.ID)
	case l.SourceFile == "" || strings.Contains(l.SourceFile, "/"):
		return fmt.Errorf("%s: source_file %q: want a plain file name", l.ID, l.SourceFile)
	case len(l.Run) == 0:
		return fmt.Errorf("%s: run command is required", l.ID)
	case l.Limits.CPUTimeMs <= 0 || l.Limits.WallTimeMs <= 0 || l.Limits.MemoryKB <= 0:
		return fmt.Errorf("%s: limits need cpu_time_ms, wall_time_ms and memory_kb", l.ID)
	}
	return nil
}

// All returns every language, sorted by id.
func (c *Catalog) All() []Language {
	out := append([]Language(nil), c.langs...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Lookup finds a language by id or alias (case-insensitive). A non-empty
// version must match the language's version or be a prefix of it at a dot
// boundary ("3" and "3.12" match "3.12.1").
func (c *Catalog) Lookup(name, version string) (Language, bool) {
	i, ok := c.names[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return Language{}, false
	}
	l := c.langs[i]
	if !VersionMatches(l.Version, version) {
		return Language{}, false
	}
	return l, true
}

// VersionMatches reports whether want ("", "*", "3", "3.12") selects have.
func VersionMatches(have, want string) bool {
	if want == "" || want == "*" || want == have {
		return true
	}
	return strings.HasPrefix(have, want+".")
}

// ByJudge0ID finds the language a Judge0 language id maps to.
func (c *Catalog) ByJudge0ID(id int) (Language, bool) {
	for _, l := range c.langs {
		for _, j := range l.Judge0IDs {
			if j == id {
				return l, true
			}
		}
	}
	return Language{}, false
}

// ByPiston finds the language a Piston (language, version) pair names.
func (c *Catalog) ByPiston(name, version string) (Language, bool) {
	name = strings.ToLower(name)
	for _, l := range c.langs {
		if l.Piston.Language == "" {
			continue
		}
		match := l.Piston.Language == name
		for _, a := range l.Piston.Aliases {
			match = match || a == name
		}
		if match && (VersionMatches(l.Piston.Version, version) || VersionMatches(l.Version, version)) {
			return l, true
		}
	}
	return c.Lookup(name, version)
}
