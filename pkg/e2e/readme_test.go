package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/execbox/app/pkg/testenv"
)

// volatile keys differ from run to run: the README shows example values,
// the test only checks that they are present.
var volatile = map[string]bool{
	"id": true, "token": true, "created_at": true, "updated_at": true, "finished_at": true, "started_at": true,
	"cpu_time_ms": true, "wall_time_ms": true, "memory_kb": true, "memory": true, "time": true, "wall_time": true,
	"cpu_time": true, "executor": true, "request_id": true, "attempts": true,
}

type readmeExample struct {
	line     int
	command  string
	expected string
}

// readmeExamples returns each "<!-- example -->" of README.md: the sh block
// after the marker and the json block after that.
func readmeExamples(t *testing.T) []readmeExample {
	return markedExamples(t, "<!-- example -->", "json")
}

// markedExamples returns each example of README.md under marker: the sh
// block after the marker and the block of language want after that.
func markedExamples(t *testing.T, marker, want string) []readmeExample {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	block := func(i int, lang string) (string, int) {
		for ; i < len(lines) && lines[i] != "```"+lang; i++ {
		}
		var body []string
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			body = append(body, lines[i])
		}
		return strings.Join(body, "\n"), i
	}
	var out []readmeExample
	for i, l := range lines {
		if l != marker {
			continue
		}
		cmd, end := block(i+1, "sh")
		expected, _ := block(end+1, want)
		out = append(out, readmeExample{line: i + 1, command: cmd, expected: expected})
	}
	if len(out) == 0 {
		t.Fatalf("README.md has no %s examples", marker)
	}
	return out
}

// subset reports where got lacks something want holds (volatile values only
// need to be present).
func subset(want, got any, path string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path + ": want an object"}
		}
		var diffs []string
		for k, wv := range w {
			gv, present := g[k]
			switch {
			case !present:
				diffs = append(diffs, path+"."+k+": missing")
			case volatile[k]:
			default:
				diffs = append(diffs, subset(wv, gv, path+"."+k)...)
			}
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: want an array of %d", path, len(w))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, subset(w[i], g[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return diffs
	default:
		if !reflect.DeepEqual(want, got) {
			b, _ := json.Marshal(got)
			return []string{path + ": got " + string(b)}
		}
		return nil
	}
}

// TestREADMEExamples runs the README's curl examples against `app all` on
// its embedded defaults, as the README's "run the service" command starts it,
// with Docker's default runtime and with gVisor (runsc, which
// scripts/testenv.sh registers).
func TestREADMEExamples(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the README's examples (scripts/testenv.sh installs it)")
	}
	examples := readmeExamples(t)
	for _, rt := range []struct{ name, runtime string }{{"runc", ""}, {"runsc", "runsc"}} {
		t.Run(rt.name, func(t *testing.T) {
			var extra []string
			if rt.runtime != "" {
				extra = []string{"--runtime", rt.runtime}
			}
			base := startAllEmbedded(t, extra...)
			for _, ex := range examples {
				cmd := strings.ReplaceAll(ex.command, "http://localhost:8085", base)
				out, err := exec.Command("bash", "-c", cmd).Output()
				if err != nil {
					t.Errorf("README.md:%d: %v", ex.line, err)
					continue
				}
				var want, got any
				if err := json.Unmarshal([]byte(ex.expected), &want); err != nil {
					t.Errorf("README.md:%d: shown answer is not JSON: %v", ex.line, err)
					continue
				}
				if err := json.Unmarshal(out, &got); err != nil {
					t.Errorf("README.md:%d: answer is not JSON: %v: %s", ex.line, err, out)
					continue
				}
				if diffs := subset(want, got, "$"); len(diffs) > 0 {
					t.Errorf("README.md:%d: the answer differs from what the README shows:\n  %s\nanswer: %s", ex.line, strings.Join(diffs, "\n  "), out)
				}
			}
		})
	}
}
