package flagenv

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestOrderFlagEnvDefault(t *testing.T) {
	t.Setenv("FE_TEST_PORT", "9000")
	t.Setenv("FE_TEST_WAIT", "3s")
	t.Setenv("FE_TEST_DB", "postgres://u:secret@h/db")
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	s := New(fs)
	var port, other int
	var wait time.Duration
	var db, key string
	s.Int(&port, "port", "FE_TEST_PORT", 8085, "port")
	s.Int(&other, "other", "FE_TEST_UNSET", 7, "other")
	s.Duration(&wait, "wait", "FE_TEST_WAIT", time.Second, "wait")
	s.String(&db, "db", "FE_TEST_DB", "", "db")
	s.Secret(&key, "key", "", "k", "key")
	if err := fs.Parse([]string{"--port", "9100"}); err != nil {
		t.Fatal(err)
	}
	if port != 9100 || other != 7 || wait != 3*time.Second {
		t.Fatalf("port=%d other=%d wait=%v", port, other, wait)
	}
	if u := fs.Lookup("port").Usage; !strings.Contains(u, "FE_TEST_PORT") {
		t.Fatalf("usage %q does not name the variable", u)
	}
	var buf bytes.Buffer
	s.Print(&buf)
	out := buf.String()
	if strings.Contains(out, "secret") || !strings.Contains(out, "key=********") {
		t.Fatalf("Print leaked a secret:\n%s", out)
	}
}

func TestBadEnvIsReported(t *testing.T) {
	t.Setenv("FE_TEST_BAD", "many")
	s := New(pflag.NewFlagSet("x", pflag.ContinueOnError))
	var n int
	s.Int(&n, "n", "FE_TEST_BAD", 1, "n")
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "FE_TEST_BAD") {
		t.Fatalf("Err() = %v", err)
	}
}
