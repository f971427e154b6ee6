// Package testenv gives execbox's integration tests the real services they
// run against, each isolated per test, and helpers to build and run the app
// binary.
//
// The services are started by scripts/testenv.sh, which writes their
// addresses to a settings file; scripts/test.sh (the README's test command and
// CI's) sources it before `go test`. By hand:
//
//	source scripts/testenv.sh && go test ./...
//
// A missing or unreachable service is a test failure, never a skip: a green
// run must mean the integration tests ran.
//
// Isolation, so that every test can call t.Parallel():
//   - Redis: a unique key prefix per call; its keys are deleted at cleanup.
//   - PostgreSQL: a fresh database per call, dropped at cleanup.
//   - Docker: a shared engine; tests label or name what they create.
//   - Tests that stop or restart a server get a private one
//     (StartRedisServer, StartPostgresServer), never the shared one.
//
// Environment (exported by scripts/testenv.sh):
//
//	EXECBOX_TEST_REDIS_URL     redis://127.0.0.1:16379/0
//	EXECBOX_TEST_DATABASE_URL  postgres://postgres@127.0.0.1:15432/postgres?sslmode=disable
//	DOCKER_HOST                unix:///var/run/docker.sock
//	EXECBOX_TEST_RUNTIMES      <repo>/testdata/runtimes.json (local sandbox images)
//	EXECBOX_TEST_REDIS_SERVER  path of redis-server (for StartRedisServer)
//	EXECBOX_TEST_PG_BIN        directory of initdb, pg_ctl (for StartPostgresServer)
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// setupHint ends every "service missing" failure.
const setupHint = "run the tests with scripts/test.sh, or `source scripts/testenv.sh` first (as root: it installs and starts the test services)"

// mustEnv returns the value of the environment variable name, or fails the
// test with a message naming the variable and how to set it.
func mustEnv(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("testenv: %s is not set, so %s is unavailable: %s", name, what, setupHint)
	}
	return v
}

// RepoRoot returns the repository root: the nearest directory at or above
// the working directory that holds go.mod. go test runs each package in its
// own directory, so this works from any package.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testenv: working directory: %v", err)
	}
	root, err := findRoot(dir)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return root
}

func findRoot(dir string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", &os.PathError{Op: "find go.mod above", Path: dir, Err: os.ErrNotExist}
		}
		d = parent
	}
}

// Runtimes returns the path of the runtimes file that points the language
// catalog at the locally built sandbox images (testdata/runtimes.json):
// $EXECBOX_TEST_RUNTIMES if set, else the one in the repository.
func Runtimes(t testing.TB) string {
	t.Helper()
	p := os.Getenv("EXECBOX_TEST_RUNTIMES")
	if p == "" {
		p = filepath.Join(RepoRoot(t), "testdata", "runtimes.json")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testenv: runtimes file: %v (its images are built by scripts/testenv.sh; %s)", err, setupHint)
	}
	return p
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process can take it before the caller binds it; servers that can
// listen on port 0 and report their address are the race-free choice.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// uniqueName returns a name derived from the test's name, safe as a Redis
// glob pattern and a PostgreSQL identifier (lower-case letters, digits, '_'),
// at most max characters, ending in random hex so parallel and repeated runs
// never collide.
func uniqueName(t testing.TB, max int) string {
	t.Helper()
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: random: %v", err)
	}
	suffix := hex.EncodeToString(b[:])
	var sb strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	name := sb.String()
	if keep := max - len(suffix) - 1; len(name) > keep {
		name = name[:keep]
	}
	return name + "_" + suffix
}
