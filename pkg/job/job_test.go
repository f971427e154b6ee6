package job

import (
	"bytes"
	"testing"
	"time"
)

func TestNewIDSortsByTime(t *testing.T) {
	t.Parallel()
	a := NewID(time.UnixMilli(1_700_000_000_000))
	b := NewID(time.UnixMilli(1_700_000_000_001))
	if !(a < b) {
		t.Fatalf("ids do not sort by time: %s >= %s", a, b)
	}
	for _, id := range []string{a, b} {
		if !ValidID(id) {
			t.Fatalf("ValidID(%q) = false", id)
		}
		if id[14] != '7' {
			t.Fatalf("id %q is not version 7", id)
		}
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"018f3c1e-7b2a-7c3d-8e4f-0123456789ab", true},
		{"018F3C1E-7B2A-7C3D-8E4F-0123456789AB", false},
		{"018f3c1e7b2a7c3d8e4f0123456789ab", false},
		{"../../etc/passwd", false},
		{"", false},
	} {
		if got := ValidID(tc.in); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestOutputRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      []byte
		wantEnc Encoding
	}{
		{"text", []byte("hello\n"), ""},
		{"nul", []byte("a\x00b"), EncodingBase64},
		{"invalid utf8", []byte{0xff, 0xfe, 'x'}, EncodingBase64},
		{"empty", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOutput(tc.in, true)
			if o.Encoding != tc.wantEnc || !o.Truncated {
				t.Fatalf("NewOutput(%q) = %+v", tc.in, o)
			}
			got, err := o.Bytes()
			if err != nil || !bytes.Equal(got, tc.in) {
				t.Fatalf("Bytes() = %q, %v; want %q", got, err, tc.in)
			}
		})
	}
}

func TestStatusFinal(t *testing.T) {
	t.Parallel()
	for _, s := range AllStatuses {
		want := s != StatusQueued && s != StatusRunning
		if s.Final() != want {
			t.Errorf("%s.Final() = %v", s, s.Final())
		}
	}
}
