package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/execbox/app/pkg/testenv"
)

// liveExamples returns each "<!-- live-example -->" of README.md: the sh
// block after the marker and the text block after that (the exact output).
func liveExamples(t *testing.T) []readmeExample {
	return markedExamples(t, "<!-- live-example -->", "text")
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
