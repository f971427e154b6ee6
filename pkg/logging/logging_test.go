package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNewJSONCarriesRole(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := New(&buf, Options{Format: "auto", Level: "debug"}, "queue")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hello", "k", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not a JSON line: %q: %v", buf.String(), err)
	}
	if rec["role"] != "queue" || rec["msg"] != "hello" {
		t.Fatalf("record = %v", rec)
	}
}

func TestNewText(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := New(&buf, Options{Format: "text"}, "gateway")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("started")
	if !strings.Contains(buf.String(), "role=gateway") || strings.Contains(buf.String(), "\x1b[") {
		t.Fatalf("text line = %q (want role, no color off a terminal)", buf.String())
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		o  Options
		ok bool
	}{
		{Options{}, true},
		{Options{Format: "json", Level: "warn"}, true},
		{Options{Format: "xml"}, false},
		{Options{Level: "loud"}, false},
	} {
		if err := tc.o.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v", tc.o, err)
		}
	}
}
