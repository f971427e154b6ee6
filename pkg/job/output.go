package job

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"unicode/utf8"
)

// NewOutput wraps captured bytes: valid UTF-8 without NUL travels as text,
// anything else as base64, so no byte is ever lost or mangled.
func NewOutput(b []byte, truncated bool) Output {
	if utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 {
		return Output{Text: string(b), Truncated: truncated}
	}
	return Output{Text: base64.StdEncoding.EncodeToString(b), Encoding: EncodingBase64, Truncated: truncated}
}

// Bytes returns the raw bytes of o.
func (o Output) Bytes() ([]byte, error) {
	if o.Encoding == EncodingBase64 {
		b, err := base64.StdEncoding.DecodeString(o.Text)
		if err != nil {
			return nil, fmt.Errorf("decode base64 output: %w", err)
		}
		return b, nil
	}
	return []byte(o.Text), nil
}

// Bytes returns the raw content of f.
func (f File) Bytes() ([]byte, error) {
	switch f.Encoding {
	case "", EncodingUTF8:
		return []byte(f.Content), nil
	case EncodingBase64:
		b, err := base64.StdEncoding.DecodeString(f.Content)
		if err != nil {
			return nil, fmt.Errorf("file %q: decode base64: %w", f.Name, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("file %q: unknown encoding %q", f.Name, f.Encoding)
}
