//go:build linux

package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// onThrowawayThread runs fn on a locked OS thread that is neither the main
// thread nor ever used again: the thread exits with the goroutine (it is
// never unlocked), and the Go runtime starts new threads from its template
// thread, never from a locked one. fn may change the thread's credentials
// (asUID) or its Landlock domain (confineProc) without touching the agent.
//
// Never the main thread: it is the process as kill(2) and /proc/1 see it,
// and Go never exits it (a main thread of the program's uid let the program
// signal the agent).
func onThrowawayThread(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Hold the main thread so that the retry gets another one.
			done <- onThrowawayThread(fn)
			runtime.UnlockOSThread()
			return
		}
		done <- fn()
	}()
	return <-done
}

// errNoLandlock: the kernel has no Landlock (before 5.13, or not enabled),
// or the sandbox's kernel is gVisor's.
var errNoLandlock = errors.New("landlock unavailable")

// landlockRulesetAttr is struct landlock_ruleset_attr of ABI 1 (the kernel
// takes a shorter struct from older callers).
type landlockRulesetAttr struct{ handledAccessFS uint64 }

// confineProc restricts the calling thread, and every process it forks from
// now on, with a Landlock domain that refuses to open any file below /proc
// for writing. The program then cannot write its /proc/self/oom_score_adj:
// it starts at 1000 (forkExecFirstToDie) and without this could lower it
// back to the floor the agent shares (no CAP_SYS_RESOURCE can raise that
// floor in a sandbox), making the memory cgroup's OOM killer take the
// supervisor instead, and with it the job's result. Nothing else a program
// writes lives in /proc (its own name goes through prctl; the root file
// system and /sys are read-only anyway). Writes everywhere else stay
// allowed: every top-level directory but /proc is granted. Landlock needs
// no privilege, only no_new_privs, which every sandbox has.
func confineProc() error {
	abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 || int(abi) < 1 {
		return fmt.Errorf("%w: %v", errNoLandlock, errno)
	}
	attr := landlockRulesetAttr{handledAccessFS: unix.LANDLOCK_ACCESS_FS_WRITE_FILE}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if errno != 0 {
		return fmt.Errorf("landlock_create_ruleset: %w", errno)
	}
	ruleset := int(fd)
	defer unix.Close(ruleset)
	entries, err := os.ReadDir("/")
	if err != nil {
		return fmt.Errorf("landlock: list /: %w", err)
	}
	for _, e := range entries {
		if e.Name() == "proc" {
			continue
		}
		if err := landlockAllowWrite(ruleset, filepath.Join("/", e.Name())); err != nil {
			return err
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("landlock: no_new_privs: %w", err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(ruleset), 0, 0); errno != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", errno)
	}
	return nil
}

// landlockAllowWrite grants writing files below path (a directory, or a
// file such as a symlink's target); entries that vanish or cannot be
// opened are skipped.
func landlockAllowWrite(ruleset int, path string) error {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	rule := unix.LandlockPathBeneathAttr{Allowed_access: unix.LANDLOCK_ACCESS_FS_WRITE_FILE, Parent_fd: int32(fd)}
	if _, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&rule)), 0, 0, 0); errno != 0 {
		return fmt.Errorf("landlock_add_rule %s: %w", path, errno)
	}
	return nil
}
