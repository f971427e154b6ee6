// Package record turns a job.Submission into the row both SQL stores keep
// (pkg/pgstore, pkg/sqlitestore) and back.
//
// A row is a few scalar columns that the read API filters, orders and
// aggregates on, plus the whole submission as one document in a binary
// column (bytea in PostgreSQL, BLOB in SQLite): JSON, gzip-compressed when it
// is larger than CompressAbove. Keeping the document binary is deliberate:
// PostgreSQL rejects NUL in text and "\u0000" in jsonb, and a submission's
// stdin, metadata, file contents or messages may hold NUL or, in-process,
// invalid UTF-8. JSON escapes both losslessly, and a binary column stores the
// escaped document as is, so every byte survives. The scalar columns are
// sanitised (NUL and invalid UTF-8 replaced); the document stays exact.
//
// Large documents are cut before they are stored: each captured output keeps
// at most Limits.MaxOutputBytes (and all outputs together at most
// Limits.MaxTotalOutputBytes), its Truncated flag is set when storage cut it;
// source files larger than Limits.MaxFilesBytes in total are replaced by their
// SHA-256 digest, flagged in the request metadata under MetaFilesOmitted. The
// digest of the files is always kept in a column.
package record

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/store"
)

// Metadata keys storage adds to a request when it had to leave something out.
const (
	// MetaFilesOmitted is "sha256:<hex>" of the files that were not stored.
	MetaFilesOmitted = "execbox.files_omitted"
)

// Codec says how Doc is encoded.
type Codec int16

const (
	CodecJSON Codec = 0
	CodecGzip Codec = 1
)

// Limits caps what one stored document may hold.
type Limits struct {
	MaxOutputBytes      int // per captured stream, raw bytes
	MaxTotalOutputBytes int // all streams of one submission together
	MaxFilesBytes       int // all source files together, raw bytes
	CompressAbove       int // gzip documents larger than this
}

// DefaultLimits keeps rows small (documents of a few KiB typically, at most
// about 600 KiB before compression). Documents under 4 KiB, the common case,
// are not gzipped: it costs about five times the JSON encoding per row and
// saves little on small documents (PostgreSQL may still compress them).
var DefaultLimits = Limits{
	MaxOutputBytes:      64 << 10,
	MaxTotalOutputBytes: 256 << 10,
	MaxFilesBytes:       256 << 10,
	CompressAbove:       4 << 10,
}

// Record is one stored row.
type Record struct {
	ID             string
	Status         string
	Language       string
	Version        string
	APIKeyID       string
	IdempotencyKey string
	Executor       string
	CreatedAt      time.Time // UTC, microseconds
	StartedAt      *time.Time
	FinishedAt     time.Time // UTC, microseconds; the ordering key
	RunWallMs      *float64
	RunCPUMs       *float64
	MemoryKB       *int64
	ExitCode       *int32
	FilesSHA256    string
	Cut            bool // storage cut outputs or left out files
	Codec          Codec
	Doc            []byte
}

// Clean makes s safe for a text column: invalid UTF-8 and NUL become U+FFFD.
func Clean(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// Micros truncates t to microseconds in UTC, the precision both stores keep.
func Micros(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// FinishedAt picks the ordering time of s: its finish time, else the
// result's, else the last update, else its creation.
func FinishedAt(s job.Submission) time.Time {
	switch {
	case !s.FinishedAt.IsZero():
		return s.FinishedAt
	case s.Result != nil && !s.Result.FinishedAt.IsZero():
		return s.Result.FinishedAt
	case !s.UpdatedAt.IsZero():
		return s.UpdatedAt
	}
	return s.CreatedAt
}

var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// New builds the row for s. It fails only when s has no valid id.
func New(s job.Submission, lim Limits) (Record, error) {
	if s.ID == "" || !utf8.ValidString(s.ID) || strings.IndexByte(s.ID, 0) >= 0 || len(s.ID) > 128 {
		return Record{}, fmt.Errorf("%w: submission id %q", store.ErrInvalid, s.ID)
	}
	r := Record{
		ID:             s.ID,
		Status:         Clean(string(s.Status)),
		Language:       Clean(s.Request.Language),
		Version:        Clean(s.Request.Version),
		APIKeyID:       Clean(s.Request.APIKeyID),
		IdempotencyKey: Clean(s.Request.IdempotencyKey),
		CreatedAt:      Micros(s.CreatedAt),
		FinishedAt:     Micros(FinishedAt(s)),
		FilesSHA256:    FilesDigest(s.Request.Files),
	}
	if res := s.Result; res != nil {
		r.Executor = Clean(res.Executor)
		if r.Language == "" {
			r.Language = Clean(res.Language)
		}
		if r.Version == "" {
			r.Version = Clean(res.Version)
		}
		if !res.StartedAt.IsZero() {
			t := Micros(res.StartedAt)
			r.StartedAt = &t
		}
		if run := runStep(res); run != nil {
			w, c, m, e := run.WallTimeMs, run.CPUTimeMs, run.MemoryKB, int32(run.ExitCode)
			r.RunWallMs, r.RunCPUMs, r.MemoryKB, r.ExitCode = &w, &c, &m, &e
		}
	}
	s, r.Cut = cut(s, lim, r.FilesSHA256)
	doc, err := json.Marshal(s)
	if err != nil {
		return Record{}, fmt.Errorf("%w: encode submission %s: %v", store.ErrInvalid, s.ID, err)
	}
	r.Doc = doc
	if lim.CompressAbove > 0 && len(doc) > lim.CompressAbove {
		var buf bytes.Buffer
		buf.Grow(len(doc) / 3)
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(&buf)
		_, _ = zw.Write(doc)
		_ = zw.Close()
		gzipPool.Put(zw)
		if buf.Len() < len(doc) {
			r.Doc, r.Codec = buf.Bytes(), CodecGzip
		}
	}
	return r, nil
}

// runStep is the step whose numbers stats use: the run, else the slowest test.
func runStep(res *job.Result) *job.Step {
	if res.Run != nil {
		return res.Run
	}
	var best *job.Step
	for i := range res.Tests {
		if best == nil || res.Tests[i].WallTimeMs > best.WallTimeMs {
			best = &res.Tests[i]
		}
	}
	return best
}

// FilesDigest is "sha256:<hex>" over the files' names and raw contents, or
// "" when there are none.
func FilesDigest(files []job.File) string {
	if len(files) == 0 {
		return ""
	}
	h := sha256.New()
	for _, f := range files {
		b, err := f.Bytes()
		if err != nil {
			b = []byte(f.Content)
		}
		fmt.Fprintf(h, "%d:%s%d:", len(f.Name), f.Name, len(b))
		h.Write(b)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// cut applies lim to a copy of s and reports whether anything was cut.
func cut(s job.Submission, lim Limits, digest string) (job.Submission, bool) {
	cutAny := false
	if lim.MaxFilesBytes > 0 {
		total := 0
		for _, f := range s.Request.Files {
			total += len(f.Content)
		}
		if total > lim.MaxFilesBytes {
			md := make(map[string]string, len(s.Request.Metadata)+1)
			for k, v := range s.Request.Metadata {
				md[k] = v
			}
			md[MetaFilesOmitted] = digest
			files := make([]job.File, len(s.Request.Files))
			for i, f := range s.Request.Files {
				files[i] = job.File{Name: f.Name}
			}
			s.Request.Files, s.Request.Metadata = files, md
			cutAny = true
		}
	}
	if s.Result == nil || lim.MaxOutputBytes <= 0 {
		return s, cutAny
	}
	res := *s.Result
	budget := lim.MaxTotalOutputBytes
	if budget <= 0 {
		budget = int(^uint(0) >> 1)
	}
	capStep := func(st *job.Step) *job.Step {
		if st == nil {
			return nil
		}
		c := *st
		var c1, c2 bool
		c.Stdout, c1 = capOutput(c.Stdout, lim.MaxOutputBytes, &budget)
		c.Stderr, c2 = capOutput(c.Stderr, lim.MaxOutputBytes, &budget)
		cutAny = cutAny || c1 || c2
		return &c
	}
	res.Compile = capStep(res.Compile)
	res.Run = capStep(res.Run)
	if len(res.Tests) > 0 {
		tests := make([]job.Step, len(res.Tests))
		for i := range res.Tests {
			tests[i] = *capStep(&res.Tests[i])
		}
		res.Tests = tests
	}
	s.Result = &res
	return s, cutAny
}

// capOutput keeps at most max raw bytes of o (and no more than *budget),
// cutting UTF-8 text on a rune boundary and base64 on whole bytes.
func capOutput(o job.Output, max int, budget *int) (job.Output, bool) {
	if *budget < max {
		max = *budget
	}
	if max < 0 {
		max = 0
	}
	if o.Encoding == job.EncodingBase64 {
		raw, err := o.Bytes()
		if err != nil || len(raw) <= max {
			*budget -= min(len(o.Text), *budget)
			return o, false
		}
		*budget -= max
		return job.Output{Text: base64.StdEncoding.EncodeToString(raw[:max]), Encoding: job.EncodingBase64, Truncated: true}, true
	}
	if len(o.Text) <= max {
		*budget -= len(o.Text)
		return o, false
	}
	n := max
	for n > 0 && !utf8.RuneStart(o.Text[n]) {
		n--
	}
	*budget -= n
	return job.Output{Text: o.Text[:n], Encoding: o.Encoding, Truncated: true}, true
}

// Submission decodes a stored document.
func Submission(codec Codec, doc []byte) (job.Submission, error) {
	var s job.Submission
	var rd io.Reader = bytes.NewReader(doc)
	switch codec {
	case CodecJSON:
	case CodecGzip:
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return s, fmt.Errorf("decode stored submission: %w", err)
		}
		defer zr.Close()
		rd = zr
	default:
		return s, fmt.Errorf("decode stored submission: unknown codec %d", codec)
	}
	if err := json.NewDecoder(rd).Decode(&s); err != nil {
		return s, fmt.Errorf("decode stored submission: %w", err)
	}
	return s, nil
}

// Cursor is a keyset position: the last item of a page, newest first.
type Cursor struct {
	FinishedAt time.Time
	ID         string
}

// Encode makes the opaque cursor string.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.FinishedAt.UnixMicro(), 10) + "." + c.ID))
}

// ParseCursor reads a cursor made by Encode. An empty string is the zero
// Cursor (first page). The id must be a submission id: anything else (a NUL,
// which PostgreSQL refuses in text, included) is ErrInvalid, never a query.
func ParseCursor(s string) (Cursor, bool, error) {
	if s == "" {
		return Cursor{}, false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, false, fmt.Errorf("%w: malformed cursor", store.ErrInvalid)
	}
	ts, id, ok := strings.Cut(string(b), ".")
	us, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || !job.ValidID(id) {
		return Cursor{}, false, fmt.Errorf("%w: malformed cursor", store.ErrInvalid)
	}
	return Cursor{FinishedAt: time.UnixMicro(us).UTC(), ID: id}, true, nil
}

// Page limits for List.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// PageSize clamps a requested page size.
func PageSize(n int) int {
	switch {
	case n <= 0:
		return DefaultPageSize
	case n > MaxPageSize:
		return MaxPageSize
	}
	return n
}

// Percentile is percentile_cont over sorted-by-position values: at(i)
// returns the i-th smallest of n values.
func Percentile(n int64, p float64, at func(i int64) (float64, error)) (float64, error) {
	if n == 0 {
		return 0, nil
	}
	pos := p * float64(n-1)
	lo := int64(pos)
	vlo, err := at(lo)
	if err != nil {
		return 0, err
	}
	if float64(lo) == pos || lo+1 >= n {
		return vlo, nil
	}
	vhi, err := at(lo + 1)
	if err != nil {
		return 0, err
	}
	return vlo + (pos-float64(lo))*(vhi-vlo), nil
}
