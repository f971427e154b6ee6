package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the app binary built once per test process (see BuildBinary).
var binary struct {
	once sync.Once
	path string
	err  error
}

// BuildBinary builds the app binary (CGO_ENABLED=0, -trimpath, like the
// release build but unstripped) once per test process and returns its path.
// The binary lives in a temporary directory that outlives single tests, so
// every test in the package can use it; directories left by earlier test
// processes that have exited are removed at the next build.
func BuildBinary(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	binary.once.Do(func() {
		binary.path, binary.err = buildBinary(root)
	})
	if binary.err != nil {
		t.Fatalf("testenv: building the app binary: %v", binary.err)
	}
	return binary.path
}

const binDirPrefix = "execbox-testbin-"

func buildBinary(root string) (string, error) {
	removeStaleBinDirs()
	dir, err := os.MkdirTemp("", binDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "app")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(), "build", "-trimpath", "-o", out, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build in %s: %v\n%s", root, err, msg)
	}
	return out, nil
}

// goTool returns the go command: the one on PATH, else the one of the
// toolchain that built this test binary.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); runtime.GOROOT() != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// removeStaleBinDirs removes build directories of test processes that no
// longer run (their names hold the pid). Best effort.
func removeStaleBinDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), binDirPrefix+"*"))
	for _, d := range dirs {
		rest := strings.TrimPrefix(filepath.Base(d), binDirPrefix)
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid == os.Getpid() {
			continue
		}
		if processGone(pid) {
			os.RemoveAll(d)
		}
	}
}

func processGone(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	err = p.Signal(syscall.Signal(0))
	return err != nil && !strings.Contains(err.Error(), "not permitted")
}
