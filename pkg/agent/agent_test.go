package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/execbox/app/pkg/job"
)

func TestOutputMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want string
		match     bool
	}{
		{"3\n", "3", true},
		{"3", "3\n\n\n", true},
		{"a  \nb\t\r\n", "a\nb", true},
		{"a\n\nb\n", "a\nb\n", false},
		{" a\n", "a\n", false},
		{"", "", true},
		{"\n\n", "", true},
		{"A\n", "a\n", false},
		{"1 2\n", "1  2\n", false},
	}
	for _, tc := range tests {
		if got := OutputMatches([]byte(tc.got), []byte(tc.want)); got != tc.match {
			t.Errorf("OutputMatches(%q, %q) = %v, want %v", tc.got, tc.want, got, tc.match)
		}
	}
}

func TestFitTrimsLargestOutputs(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 100_000)
	bin := append([]byte{0, 1, 2}, bytes.Repeat([]byte{0xff}, 50_000)...)
	res := Result{Runs: []Step{
		{Step: job.Step{Stdout: job.NewOutput([]byte(big), false), Stderr: job.NewOutput([]byte("small"), false)}},
		{Step: job.Step{Stdout: job.NewOutput(bin, false)}},
	}}
	out := fit(res, 40_000)
	b, _ := json.Marshal(out)
	if len(b) > 40_000 {
		t.Fatalf("fit left %d bytes", len(b))
	}
	if !out.Runs[0].Stdout.Truncated || !out.Runs[1].Stdout.Truncated {
		t.Errorf("trimmed outputs not flagged truncated")
	}
	if out.Runs[0].Stderr.Text != "small" || out.Runs[0].Stderr.Truncated {
		t.Errorf("small output changed: %+v", out.Runs[0].Stderr)
	}
	if got, _ := out.Runs[1].Stdout.Bytes(); !bytes.HasPrefix(bin, got) || len(got) == 0 {
		t.Errorf("binary output not a prefix of the original")
	}
	if unchanged := fit(res, 0); unchanged.Runs[0].Stdout.Truncated {
		t.Errorf("fit with no bound changed the result")
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	line := "42 (evil) name) R 1 42 42 0 -1 4194304 100 0 0 0 150 30 7 3 20 0 1 0 100 1000000 2560 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	ticks, rss, ok := parseStat([]byte(line))
	if !ok || ticks != 150+30+7+3 || rss != 2560 {
		t.Errorf("parseStat = %d, %d, %v; want 190, 2560, true", ticks, rss, ok)
	}
	if _, _, ok := parseStat([]byte("garbage")); ok {
		t.Errorf("parseStat accepted garbage")
	}
}

// The agent kills every process it can see, so it must refuse to run
// anywhere but as PID 1 of a sandbox (this test process is not).
func TestMainRefusesOutsideSandbox(t *testing.T) {
	t.Parallel()
	spec := `{"files":[{"name":"main.sh","content":"echo hi"}],"run":{"argv":["sh","main.sh"],"limits":{}},"uid":12345}`
	var out bytes.Buffer
	if err := Main(context.Background(), strings.NewReader(spec), &out); err != nil {
		t.Fatal(err)
	}
	var f Frame
	if err := json.Unmarshal(out.Bytes(), &f); err != nil || f.Result == nil {
		t.Fatalf("frame %q: %v", out.Bytes(), err)
	}
	res := *f.Result
	if !strings.Contains(res.Error, "PID 1") || len(res.Runs) != 0 {
		t.Errorf("result %+v, want a refusal", res)
	}
	out.Reset()
	if err := Main(context.Background(), strings.NewReader(""), &out); err != nil || out.Len() != 0 {
		t.Errorf("empty stdin: %v, %q; want a quiet exit", err, out.String())
	}
}
