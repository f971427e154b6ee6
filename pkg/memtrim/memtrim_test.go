package memtrim

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const smapsSample = `00400000-00de6000 r-xp 00000000 fd:01 123 /bin/app
Size:               9880 kB
Rss:                8112 kB
Anonymous:             0 kB
00de6000-0190e000 r--p 009e6000 fd:01 123 /bin/app
Rss:                7680 kB
Anonymous:             0 kB
0190e000-019be000 rw-p 0150e000 fd:01 123 /bin/app
Anonymous:           200 kB
02000000-02001000 r--p 01600000 fd:01 123 /bin/app
Anonymous:             4 kB
03000000-03001000 r--s 01700000 fd:01 123 /bin/app
Anonymous:             0 kB
7f000000-7f001000 r-xp 00000000 fd:01 999 /lib/other.so
Anonymous:             0 kB
7f100000-7f101000 rw-p 00000000 00:00 0
Anonymous:             4 kB
7ffd0000-7ffd1000 r-xp 00000000 00:00 0                          [vdso]
`

func TestReleasableSpans(t *testing.T) {
	tests := []struct {
		name, smaps, exe string
		want             []Span
	}{
		{"text and rodata of exe only", smapsSample, "/bin/app", []Span{{0x400000, 0xde6000}, {0xde6000, 0x190e000}}},
		{"other file", smapsSample, "/bin/none", nil},
		{"empty", "", "/bin/app", nil},
		{"private copies at the end", "00400000-00401000 r--p 0 fd:01 1 /bin/app\nAnonymous: 8 kB\n", "/bin/app", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReleasableSpans(strings.NewReader(tt.smaps), tt.exe)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %x, want %x", got, tt.want)
			}
		})
	}
	if _, err := ReleasableSpans(strings.NewReader("zz-00 r-xp 0 0 0 /bin/app\n"), "/bin/app"); err != nil {
		t.Errorf("a non-hex line is not a header and must be ignored, got %v", err)
	}
	if _, err := ReleasableSpans(strings.NewReader("0200-0100 r-xp 0 0 0 /bin/app\n"), "/bin/app"); err == nil {
		t.Error("an inverted range must be an error")
	}
}

// TestRelease releases the test binary's own pages, then keeps running code
// from them and checks nothing broke and the file-backed RSS went down.
func TestRelease(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, err := Release(); err != ErrUnsupported {
			t.Fatalf("Release = %v, want ErrUnsupported", err)
		}
		return
	}
	res, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	if res.Spans == 0 {
		t.Fatal("no mapping of the executable was released")
	}
	if res.FileRSSAfter >= res.FileRSSBefore {
		t.Errorf("file-backed RSS %d KiB -> %d KiB, want it lower", res.FileRSSBefore, res.FileRSSAfter)
	}
	// The released code and data must still work: run a good part of the
	// standard library again.
	b, err := os.ReadFile("/proc/self/status")
	if err != nil || !strings.Contains(string(b), "VmRSS") {
		t.Fatalf("reading status after Release: %v", err)
	}
	t.Logf("RSS %d -> %d KiB (file-backed %d -> %d KiB) over %d mappings",
		res.RSSBefore, res.RSSAfter, res.FileRSSBefore, res.FileRSSAfter, res.Spans)
}
