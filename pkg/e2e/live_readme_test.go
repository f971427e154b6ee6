package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/execbox/app/pkg/testenv"
)

// liveExamples returns each "<!-- live-example -->" of README.md: the sh
// block after the marker and the text block after that (the exact output).
func liveExamples(t *testing.T) []readmeExample {
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
		if l != "<!-- live-example -->" {
			continue
		}
		cmd, end := block(i+1, "sh")
		want, _ := block(end+1, "text")
		out = append(out, readmeExample{line: i + 1, command: cmd, expected: want})
	}
	if len(out) == 0 {
		t.Fatal("README.md has no live examples")
	}
	return out
}

// TestREADMELiveExamples runs the README's streaming and CLI examples
// (curl on the event stream, app run batch and interactive) against
// app all, with "app" the binary under test, in a scratch directory.
func TestREADMELiveExamples(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the README's examples (scripts/testenv.sh installs it)")
	}
	bin := testenv.BuildBinary(t)
	base := startAllEmbedded(t)
	for _, ex := range liveExamples(t) {
		cmd := strings.ReplaceAll(ex.command, "http://localhost:8085", base)
		c := exec.Command("bash", "-c", "app() { \"$APP\" \"$@\"; }\n"+cmd)
		c.Dir = t.TempDir()
		c.Env = append(os.Environ(), "APP="+bin, "EXECBOX_SERVER="+base)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Errorf("README.md:%d: %v: %s", ex.line, err, out)
			continue
		}
		if got := strings.TrimRight(string(out), "\n"); got != ex.expected {
			t.Errorf("README.md:%d: output\n%s\nwant\n%s", ex.line, got, ex.expected)
		}
	}
}
