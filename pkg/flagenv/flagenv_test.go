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

func TestSecondBindingFollowsTheFirst(t *testing.T) {
	t.Setenv("FE_TEST_SHARED", "from-env")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"environment", nil, "from-env"},
		{"flag", []string{"--shared", "from-flag"}, "from-flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
			s := New(fs)
			var a, b, c string
			s.String(&a, "shared", "FE_TEST_SHARED", "def", "one flag for three fields")
			s.String(&b, "shared", "FE_TEST_SHARED", "def", "one flag for three fields")
			s.String(&c, "shared", "FE_TEST_SHARED", "def", "one flag for three fields")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if a != tt.want || b != tt.want || c != tt.want {
				t.Fatalf("fields = %q, %q, %q; want %q each", a, b, c, tt.want)
			}
		})
	}
}

func TestSecondBindingMustBeTheSameFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		bind func(s *Set, p *int)
	}{
		{"other default", func(s *Set, p *int) { s.Int(p, "n", "FE_N", 2, "n") }},
		{"other variable", func(s *Set, p *int) { s.Int(p, "n", "FE_M", 1, "n") }},
		{"other help", func(s *Set, p *int) { s.Int(p, "n", "FE_N", 1, "count") }},
		{"other type", func(s *Set, _ *int) {
			var d time.Duration
			s.Duration(&d, "n", "FE_N", 1, "n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New(pflag.NewFlagSet("x", pflag.ContinueOnError))
			var a, b int
			s.Int(&a, "n", "FE_N", 1, "n")
			defer func() {
				if recover() == nil {
					t.Fatal("a different second binding of --n did not panic")
				}
			}()
			tt.bind(s, &b)
		})
	}
}

func TestShiftedKeepsTheSmallerUnit(t *testing.T) {
	t.Setenv("FE_TEST_MB", "3")
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	s := New(fs)
	var fromEnv, fromFlag, def int64
	s.Shifted(&fromEnv, 20, "env-mb", "FE_TEST_MB", 64<<20, "size, MiB")
	s.Shifted(&fromFlag, 20, "flag-mb", "", 64<<20, "size, MiB")
	s.Shifted(&def, 10, "def-mb", "", 2<<20, "size, MiB")
	if err := fs.Parse([]string{"--flag-mb", "5"}); err != nil {
		t.Fatal(err)
	}
	if fromEnv != 3<<20 || fromFlag != 5<<20 || def != 2<<20 {
		t.Fatalf("env %d, flag %d, default %d", fromEnv, fromFlag, def)
	}
	if d := fs.Lookup("def-mb").DefValue; d != "2048" {
		t.Fatalf("--def-mb shows default %q, want 2048 (MiB)", d)
	}
	if err := fs.Parse([]string{"--flag-mb", "x"}); err == nil {
		t.Fatal("--flag-mb x was accepted")
	}
}
