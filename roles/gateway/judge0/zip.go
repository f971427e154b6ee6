package judge0

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/execbox/app/pkg/job"
)

// additionalFiles unpacks Judge0's additional_files (a base64 zip) into
// files beside the source, safely: every entry must be a regular file at the
// top level of the archive (no absolute path, no "..", no directory part, no
// link or device), at most maxFiles of them, holding at most maxBytes
// uncompressed in all (counted while inflating, never trusted from the
// archive's headers). Directory entries are skipped. An entry named like
// an existing file (the source) is skipped too, as Judge0's "unzip -n"
// never overwrites. Errors are messages for the additional_files field.
func additionalFiles(b64 string, existing []string, maxFiles int, maxBytes int64) ([]job.File, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("is not valid base64")
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil, errors.New("is not a zip archive")
	}
	taken := map[string]bool{}
	for _, n := range existing {
		taken[n] = true
	}
	var (
		out   []job.File
		total int64
	)
	for _, f := range zr.File {
		name := f.Name
		mode := f.Mode()
		switch {
		case mode.IsDir() || strings.HasSuffix(name, "/"):
			if !safeName(strings.TrimSuffix(name, "/")) {
				return nil, fmt.Errorf("entry %q: must be a relative path without \"..\"", name)
			}
			continue
		case !safeName(name):
			return nil, fmt.Errorf("entry %q: must be a relative path without \"..\"", name)
		case !mode.IsRegular():
			return nil, fmt.Errorf("entry %q: only regular files are allowed (no links or devices)", name)
		case strings.Contains(name, "/"):
			return nil, fmt.Errorf("entry %q: files in directories are not supported; put every file at the top level", name)
		case taken[name]:
			continue
		}
		if len(out) == maxFiles {
			return nil, fmt.Errorf("holds more than %d files", maxFiles)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("entry %q: %v", name, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxBytes-total+1))
		_ = rc.Close()
		if err != nil {
			return nil, fmt.Errorf("entry %q: %v", name, err)
		}
		total += int64(len(data))
		if total > maxBytes {
			return nil, fmt.Errorf("extracts to more than %d bytes", maxBytes)
		}
		taken[name] = true
		out = append(out, job.File{Name: name, Content: base64.StdEncoding.EncodeToString(data), Encoding: job.EncodingBase64})
	}
	return out, nil
}

// safeName: a relative, clean path inside the archive's root.
func safeName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return false
		}
	}
	return path.Clean(name) == name
}
