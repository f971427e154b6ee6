package testenv

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the process StartProc runs in these tests.
func TestMain(m *testing.M) {
	switch os.Getenv("TESTENV_HELPER") {
	case "":
		os.Exit(m.Run())
	case "exit":
		fmt.Println("to stdout")
		fmt.Fprintln(os.Stderr, "to stderr", os.Getenv("EXECBOX_PORT"), os.Getenv("EXECBOX_TEST_X"), os.Getenv("EXTRA"))
		os.Exit(3)
	case "sleep":
		time.Sleep(time.Minute)
		os.Exit(0)
	}
}

func TestRepoRoot(t *testing.T) {
	t.Parallel()
	root := RepoRoot(t)
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "module github.com/execbox/app") {
		t.Errorf("%s/go.mod is not the execbox module", root)
	}
	if _, err := findRoot("/"); err == nil {
		t.Errorf("findRoot(/) found a go.mod")
	}
}

func TestRuntimes(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(Runtimes(t)); err != nil {
		t.Fatal(err)
	}
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	p := FreePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("FreePort = %d", p)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("port %d from FreePort is not free: %v", p, err)
	}
	l.Close()
}

func TestUniqueName(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[a-z0-9_]+$`)
	a, b := uniqueName(t, 63), uniqueName(t, 63)
	if a == b {
		t.Errorf("two calls gave the same name %q", a)
	}
	for _, n := range []string{a, b} {
		if !valid.MatchString(n) || len(n) > 63 || !strings.HasPrefix(n, "testuniquename_") {
			t.Errorf("bad name %q", n)
		}
	}
	t.Run("a/Very Long*Name?[with]globs-"+strings.Repeat("x", 100), func(t *testing.T) {
		n := uniqueName(t, 40)
		if !valid.MatchString(n) || len(n) != 40 {
			t.Errorf("bad name %q (len %d)", n, len(n))
		}
	})
}

func TestHermeticEnv(t *testing.T) {
	t.Parallel()
	got := hermeticEnv([]string{"PATH=/bin", "EXECBOX_PORT=1", "EXECBOX_TEST_REDIS_URL=r", "REDIS_URL=x", "DATABASE_URL=y", "DOCKER_HOST=d"})
	want := []string{"PATH=/bin", "EXECBOX_TEST_REDIS_URL=r", "DOCKER_HOST=d"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("hermeticEnv = %v, want %v", got, want)
	}
}

func TestProcExitCodeAndOutput(t *testing.T) {
	t.Setenv("EXECBOX_PORT", "leaked")
	t.Setenv("EXECBOX_TEST_X", "kept")
	p := StartProc(t, os.Args[0], []string{"TESTENV_HELPER=exit", "EXTRA=added"})
	code, err := p.Wait(30 * time.Second)
	if err != nil || code != 3 {
		t.Fatalf("Wait = %d, %v; want 3, nil", code, err)
	}
	if got := p.Stdout(); got != "to stdout\n" {
		t.Errorf("stdout %q", got)
	}
	if got := p.Stderr(); got != "to stderr  kept added\n" {
		t.Errorf("stderr %q (EXECBOX_* must not leak, EXECBOX_TEST_* must)", got)
	}
	p.Kill() // no-op after exit
}

func TestProcSignalAndTimeout(t *testing.T) {
	t.Parallel()
	p := StartProc(t, os.Args[0], []string{"TESTENV_HELPER=sleep"})
	if _, err := p.Wait(50 * time.Millisecond); err == nil {
		t.Fatal("Wait returned no error while the process sleeps")
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := p.Wait(30 * time.Second)
	if err != nil || code != 128+int(syscall.SIGTERM) {
		t.Fatalf("Wait = %d, %v; want %d", code, err, 128+int(syscall.SIGTERM))
	}
}

func TestProcKilledAtCleanup(t *testing.T) {
	t.Parallel()
	var p *Proc
	t.Run("inner", func(t *testing.T) {
		p = StartProc(t, os.Args[0], []string{"TESTENV_HELPER=sleep"})
	})
	select {
	case <-p.Done():
	default:
		t.Fatal("process still runs after its test ended")
	}
}

func TestWaitHTTP(t *testing.T) {
	t.Parallel()
	ready := time.Now().Add(200 * time.Millisecond)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if time.Now().Before(ready) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	start := time.Now()
	WaitHTTP(t, srv.URL, http.StatusOK, 10*time.Second)
	if time.Since(start) < 150*time.Millisecond {
		t.Errorf("WaitHTTP returned before the server was ready")
	}
}

func TestBuildBinary(t *testing.T) {
	t.Parallel()
	bin := BuildBinary(t)
	if again := BuildBinary(t); again != bin {
		t.Errorf("second BuildBinary = %q, want the first build %q", again, bin)
	}
	fi, err := os.Stat(bin)
	if err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s: not an executable: %v", bin, err)
	}
}
