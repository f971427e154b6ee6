package e2e

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/execbox/app/pkg/testenv"
)

// TestStartupMemoryReleased: a role started as a process releases its
// start-up memory once start-up has settled, and keeps serving afterwards.
func TestStartupMemoryReleased(t *testing.T) {
	t.Parallel()
	bin := testenv.BuildBinary(t)
	redisURL, prefix := testenv.Redis(t)
	p, base := startRole(t, bin, role{name: "queue", args: []string{"--redis-url", redisURL, "--redis-prefix", prefix, "--log-level", "debug"}})
	var rec struct {
		Mappings   int   `json:"mappings"`
		FileBefore int64 `json:"file_rss_kib_before"`
		FileAfter  int64 `json:"file_rss_kib_after"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for found := false; !found; {
		sc := bufio.NewScanner(strings.NewReader(p.Stderr()))
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"msg":"released start-up memory"`) {
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("log record %q: %v", sc.Text(), err)
				}
				found = true
			}
		}
		if !found && time.Now().After(deadline) {
			t.Fatalf("no \"released start-up memory\" record within 30 s; stderr:\n%s", p.Stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rec.Mappings == 0 || rec.FileAfter >= rec.FileBefore {
		t.Errorf("release: %d mappings, file-backed RSS %d -> %d KiB; want fewer KiB after", rec.Mappings, rec.FileBefore, rec.FileAfter)
	}
	// The released code runs again.
	if code, body := getReady(t, base); code != 200 {
		t.Errorf("/ready after the release = %d %+v", code, body)
	}
}
