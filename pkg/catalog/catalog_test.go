package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultHasTheRequiredLanguages(t *testing.T) {
	t.Parallel()
	c := Default()
	for _, id := range []string{"python", "javascript", "typescript", "c", "cpp", "go", "java", "rust", "ruby", "php", "bash"} {
		l, ok := c.Lookup(id, "")
		if !ok {
			t.Errorf("default catalog lacks %s", id)
			continue
		}
		if len(l.Judge0IDs) == 0 || l.Piston.Language == "" {
			t.Errorf("%s: no Judge0 id or Piston name", id)
		}
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	c := Default()
	for _, tc := range []struct {
		name, version, want string
	}{
		{"python", "", "python"},
		{"PY", "", "python"},
		{"python", "3", "python"},
		{"python", "3.11", "python"},
		{"python", "2", ""},
		{"python", "3.1", ""},
		{"c++", "", "cpp"},
		{"cobol", "", "cobol"},
		{"brainfuck", "", ""},
	} {
		l, ok := c.Lookup(tc.name, tc.version)
		if got := l.ID; got != tc.want || ok != (tc.want != "") {
			t.Errorf("Lookup(%q, %q) = %q, %v; want %q", tc.name, tc.version, got, ok, tc.want)
		}
	}
}

func TestCompatLookups(t *testing.T) {
	t.Parallel()
	c := Default()
	if l, ok := c.ByJudge0ID(71); !ok || l.ID != "python" {
		t.Errorf("ByJudge0ID(71) = %q, %v", l.ID, ok)
	}
	if _, ok := c.ByJudge0ID(9999); ok {
		t.Error("ByJudge0ID(9999) found something")
	}
	cpp, _ := c.Lookup("cpp", "")
	if l, ok := c.ByPiston("c++", cpp.Version); !ok || l.ID != "cpp" {
		t.Errorf("ByPiston(c++) = %q, %v", l.ID, ok)
	}
	if l, ok := c.ByPiston("py", "*"); !ok || l.ID != "python" {
		t.Errorf("ByPiston(py) = %q, %v", l.ID, ok)
	}
}

func TestLoadExtendAndReplace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ext := filepath.Join(dir, "ext.json")
	os.WriteFile(ext, []byte(`{"extend": true, "languages": [
		{"id": "python", "name": "Python", "version": "3.11", "image": "local/python:3.11", "source_file": "main.py",
		 "run": ["python3", "main.py"], "limits": {"cpu_time_ms": 1000, "wall_time_ms": 2000, "memory_kb": 65536}}]}`), 0o644)
	c, err := Load(ext)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := c.Lookup("python", ""); l.Image != "local/python:3.11" {
		t.Errorf("python image = %q, want the replacement", l.Image)
	}
	if _, ok := c.Lookup("rust", ""); !ok {
		t.Error("extend dropped the defaults")
	}
	repl := filepath.Join(dir, "repl.json")
	os.WriteFile(repl, []byte(`{"languages": [
		{"id": "sh", "name": "sh", "version": "1", "image": "x", "source_file": "main.sh", "run": ["sh", "main.sh"],
		 "limits": {"cpu_time_ms": 1000, "wall_time_ms": 2000, "memory_kb": 65536}}]}`), 0o644)
	c, err = Load(repl)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.All()) != 1 {
		t.Errorf("replace kept %d languages", len(c.All()))
	}
}

func TestInvalidCatalogNamesTheProblem(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`{"languages": [{"id": "x", "image": "i", "source_file": "a/b", "run": ["x"],
		"limits": {"cpu_time_ms": 1, "wall_time_ms": 1, "memory_kb": 1}}]}`), nil)
	if err == nil {
		t.Fatal("want an error for a source_file with a slash")
	}
}

func TestTestdataRuntimesParse(t *testing.T) {
	t.Parallel()
	c, err := Load(filepath.Join("..", "..", "testdata", "runtimes.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"bash", "python", "c", "cpp", "javascript"} {
		if _, ok := c.Lookup(id, ""); !ok {
			t.Errorf("testdata catalog lacks %s", id)
		}
	}
}

func TestDefaultVersionsComeFromVersionsJSON(t *testing.T) {
	t.Parallel()
	v := DefaultVersions()
	for _, l := range Default().All() {
		if l.Version == UnknownVersion || l.Version != v[l.ID] {
			t.Errorf("%s: version %q, versions.json says %q", l.ID, l.Version, v[l.ID])
		}
		if l.Piston.Language != "" && l.Piston.Version != l.Version {
			t.Errorf("%s: Piston version %q, want the language's %q", l.ID, l.Piston.Version, l.Version)
		}
	}
}

func TestJudge0IDsAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[int]string{}
	for _, l := range Default().All() {
		for _, id := range l.Judge0IDs {
			if other, dup := seen[id]; dup {
				t.Errorf("Judge0 id %d: %s and %s", id, other, l.ID)
			}
			seen[id] = l.ID
		}
	}
}

func TestSourceName(t *testing.T) {
	t.Parallel()
	java, ok := Default().Lookup("java", "")
	if !ok {
		t.Fatal("no java")
	}
	for _, tc := range []struct{ src, want string }{
		{"public class Main { }", "Main.java"},
		{"import java.util.*;\n\npublic final class Solution {\n}", "Solution.java"},
		{"class Hidden { }", ""},
		{"// public class Comment\nclass X {}", ""},
	} {
		if got := java.SourceName(strings.ReplaceAll(tc.src, `\n`, "\n")); got != tc.want {
			t.Errorf("SourceName(%q) = %q, want %q", tc.src, got, tc.want)
		}
	}
	if _, err := Parse([]byte(`{"languages": [{"id": "x", "version": "1", "image": "i", "source_file": "a", "run": ["x"],
		"source_name_pattern": "no group", "limits": {"cpu_time_ms": 1, "wall_time_ms": 1, "memory_kb": 1}}]}`), nil); err == nil {
		t.Error("want an error for a source_name_pattern without a group")
	}
}
