// Package memtrim gives back to the kernel the memory that only a role's
// start-up needed, so that its RSS afterwards is its working set.
//
// Two kinds of start-up memory stay resident in a Go process:
//
//   - Pages of the executable itself. Package initialisers and start-up code
//     are spread over the whole text and pclntab of the binary, and Linux
//     maps file pages in 64 KiB fault-around blocks, so by the time a role
//     serves, about 14 MB of the 23 MB executable is mapped into it and
//     counted in its RSS, although most of it never runs again.
//   - Heap the start-up garbage grew, which the Go runtime returns to the OS
//     only gradually.
//
// Release drops the process's mappings of the executable's read-only,
// unmodified pages (madvise MADV_DONTNEED) and returns free heap
// (debug.FreeOSMemory). Nothing is lost: the pages stay in the page cache,
// shared with every other process started from the same image, and a page
// the process needs again comes back on a minor fault of about a
// microsecond. A mapping holding private (copy-on-write) pages is never
// touched, since dropping those would lose data.
package memtrim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Span is one address range [Start, End) of a mapping.
type Span struct {
	Start, End uintptr
}

// Result reports what Release did.
type Result struct {
	Spans int // mappings released
	// RSS before and after, in KiB (VmRSS of /proc/self/status), and its
	// file-backed part.
	RSSBefore, RSSAfter         int64
	FileRSSBefore, FileRSSAfter int64
}

// ErrUnsupported is returned where the platform has no way to release pages.
var ErrUnsupported = errors.New("memtrim: not supported on this platform")

// Release returns start-up memory to the kernel (see the package comment).
func Release() (Result, error) {
	var res Result
	if !supported {
		return res, ErrUnsupported
	}
	res.RSSBefore, res.FileRSSBefore = rss()
	debug.FreeOSMemory()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return res, fmt.Errorf("memtrim: %w", err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return res, fmt.Errorf("memtrim: %w", err)
	}
	spans, err := ReleasableSpans(f, exe)
	f.Close()
	if err != nil {
		return res, err
	}
	for _, s := range spans {
		if err := dontNeed(s); err != nil {
			return res, err
		}
		res.Spans++
	}
	res.RSSAfter, res.FileRSSAfter = rss()
	return res, nil
}

// AfterStartup waits for settle (or ctx), then calls Release once and logs
// the result. Run it in its own goroutine when a role starts.
func AfterStartup(ctx context.Context, log *slog.Logger, settle time.Duration) {
	t := time.NewTimer(settle)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	res, err := Release()
	if err != nil {
		if !errors.Is(err, ErrUnsupported) {
			log.Warn("could not release start-up memory", "err", err)
		}
		return
	}
	log.Debug("released start-up memory", "mappings", res.Spans,
		"rss_kib_before", res.RSSBefore, "rss_kib_after", res.RSSAfter,
		"file_rss_kib_before", res.FileRSSBefore, "file_rss_kib_after", res.FileRSSAfter)
}

// ReleasableSpans reads /proc/PID/smaps text and returns the mappings of
// the file exe that can be dropped without losing anything: not writable,
// and holding no anonymous (private copy-on-write) page.
func ReleasableSpans(smaps io.Reader, exe string) ([]Span, error) {
	var (
		out  []Span
		cur  Span
		keep bool // the current mapping is a candidate
	)
	flush := func() {
		if keep {
			out = append(out, cur)
		}
		keep = false
	}
	sc := bufio.NewScanner(smaps)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if isHeader(f[0]) {
			flush()
			if len(f) < 6 || f[5] != exe || len(f[1]) < 4 || f[1][0] != 'r' || f[1][1] != '-' || f[1][3] != 'p' {
				continue // not ours, writable, or shared
			}
			lo, hi, _ := strings.Cut(f[0], "-")
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 != nil || err2 != nil || b <= a {
				return nil, fmt.Errorf("memtrim: bad smaps line %q", line)
			}
			cur, keep = Span{Start: uintptr(a), End: uintptr(b)}, true
			continue
		}
		if keep && f[0] == "Anonymous:" && (len(f) < 2 || f[1] != "0") {
			keep = false // private copies: dropping them would lose data
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("memtrim: read smaps: %w", err)
	}
	flush()
	return out, nil
}

// isHeader reports whether an smaps field starts a mapping ("lo-hi").
func isHeader(s string) bool {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok || lo == "" || hi == "" {
		return false
	}
	for _, c := range lo + hi {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// rss returns VmRSS and RssFile of this process in KiB (0 when unknown).
func rss() (total, file int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			total = n
		case "RssFile":
			file = n
		}
	}
	return total, file
}
