package record

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/store"
)

func TestClean(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a\x00b", "a\uFFFDb"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Clean(tt.in); got != tt.want {
			t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCapOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		out       job.Output
		max       int
		budget    int
		wantBytes []byte
		wantCut   bool
	}{
		{"fits", job.NewOutput([]byte("hello"), false), 10, 100, []byte("hello"), false},
		{"text cut", job.NewOutput([]byte("hello world"), false), 5, 100, []byte("hello"), true},
		{"rune boundary", job.NewOutput([]byte("ééé"), false), 3, 100, []byte("é"), true},
		{"binary cut", job.NewOutput([]byte{0, 1, 2, 3, 4}, false), 3, 100, []byte{0, 1, 2}, true},
		{"budget", job.NewOutput([]byte("hello world"), false), 100, 4, []byte("hell"), true},
		{"budget spent", job.NewOutput([]byte("x"), false), 100, 0, []byte{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			budget := tt.budget
			got, cut := capOutput(tt.out, tt.max, &budget)
			b, err := got.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, tt.wantBytes) || cut != tt.wantCut || got.Truncated != tt.wantCut {
				t.Errorf("capOutput = %q (truncated %v), cut %v; want %q, cut %v", b, got.Truncated, cut, tt.wantBytes, tt.wantCut)
			}
			if got.Encoding == "" && !utf8.ValidString(got.Text) {
				t.Errorf("cut text is not valid UTF-8: %q", got.Text)
			}
		})
	}
}

func TestNewCutsFilesAndKeepsDigest(t *testing.T) {
	t.Parallel()
	s := job.Submission{ID: job.NewID(time.Now()), Status: job.StatusAccepted, CreatedAt: time.Now(),
		Request: job.Request{Language: "c", Files: []job.File{{Name: "big.c", Content: strings.Repeat("x", 300<<10)}}}}
	r, err := New(s, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Submission(r.Codec, r.Doc)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Cut || got.Request.Files[0].Content != "" || got.Request.Files[0].Name != "big.c" {
		t.Errorf("files not cut: cut=%v files=%d bytes", r.Cut, len(got.Request.Files[0].Content))
	}
	if d := got.Request.Metadata[MetaFilesOmitted]; d == "" || d != r.FilesSHA256 || d != FilesDigest(s.Request.Files) {
		t.Errorf("omitted files digest %q, column %q", d, r.FilesSHA256)
	}
	if s.Request.Metadata != nil || len(s.Request.Files[0].Content) != 300<<10 {
		t.Error("New modified its argument")
	}
	if r.Codec != CodecJSON {
		t.Errorf("small document compressed (codec %d)", r.Codec)
	}
}

func TestNewCompressesLargeDocuments(t *testing.T) {
	t.Parallel()
	s := job.Submission{ID: job.NewID(time.Now()), Status: job.StatusAccepted,
		Request: job.Request{Language: "python", Stdin: strings.Repeat("abc\n", 10_000)}}
	r, err := New(s, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if r.Codec != CodecGzip || len(r.Doc) > 4096 {
		t.Errorf("codec %d, %d bytes; want a small gzip document", r.Codec, len(r.Doc))
	}
	got, err := Submission(r.Codec, r.Doc)
	if err != nil || got.Request.Stdin != s.Request.Stdin {
		t.Errorf("round trip failed: %v", err)
	}
}

func TestNewRejectsBadID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", "a\x00b", strings.Repeat("a", 200)} {
		if _, err := New(job.Submission{ID: id}, DefaultLimits); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("New(id %q) err = %v, want ErrInvalid", id, err)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := Cursor{FinishedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), ID: job.NewID(time.Now())}
	got, ok, err := ParseCursor(c.Encode())
	if err != nil || !ok || got != c {
		t.Errorf("ParseCursor(Encode(%+v)) = %+v, %v, %v", c, got, ok, err)
	}
	if _, ok, err := ParseCursor(""); ok || err != nil {
		t.Errorf("empty cursor: %v %v", ok, err)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	vals := []float64{10, 20, 30, 40}
	at := func(i int64) (float64, error) { return vals[i], nil }
	tests := []struct {
		p    float64
		want float64
	}{{0, 10}, {0.5, 25}, {1, 40}, {0.95, 38.5}}
	for _, tt := range tests {
		got, err := Percentile(int64(len(vals)), tt.p, at)
		if err != nil || got-tt.want > 1e-9 || tt.want-got > 1e-9 {
			t.Errorf("Percentile(%v) = %v, %v; want %v", tt.p, got, err, tt.want)
		}
	}
	if got, _ := Percentile(0, 0.5, at); got != 0 {
		t.Errorf("empty = %v", got)
	}
}
