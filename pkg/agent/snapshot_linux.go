//go:build linux

package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// asUID runs fn on a throwaway thread whose identity is uid (and gid uid,
// no supplementary groups), so the files it touches are the program's and
// permissions are checked as the program's (the agent has no
// CAP_DAC_OVERRIDE). The raw setresuid changes only the calling thread, not
// the whole process as syscall.Setresuid would. Not setfsuid: gVisor
// (20221219) does not implement it, and the files were written as root,
// which the program could then neither chmod nor remove. Callers run asUID
// only while no program process is alive (one of uid could signal the
// thread meanwhile).
func asUID(uid int, fn func() error) error {
	return onThrowawayThread(func() error {
		id := uintptr(uid)
		for _, c := range []struct {
			name       string
			trap       uintptr
			a1, a2, a3 uintptr
		}{
			{"setgroups", unix.SYS_SETGROUPS, 0, 0, 0},
			{"setresgid", unix.SYS_SETRESGID, id, id, id},
			{"setresuid", unix.SYS_SETRESUID, id, id, id},
		} {
			if _, _, errno := unix.RawSyscall(c.trap, c.a1, c.a2, c.a3); errno != 0 {
				return fmt.Errorf("become uid %d: %s: %w", uid, c.name, errno)
			}
		}
		return fn()
	})
}

// snapshot is the work directory as the compile step left it (or as the job's
// files were written), restored before every test case after the first.
type snapshot struct{ entries []snapEntry }

type snapEntry struct {
	rel  string
	mode fs.FileMode
	data []byte // regular files
	link string // symlinks
}

// takeSnapshot records every directory, regular file and symlink under root
// (run between steps: no program process is left).
func takeSnapshot(root string) (*snapshot, error) {
	s := &snapshot{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == root {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := snapEntry{rel: rel, mode: info.Mode()}
		switch {
		case info.Mode().IsRegular():
			if e.data, err = os.ReadFile(path); err != nil {
				return err
			}
		case info.Mode()&fs.ModeSymlink != 0:
			if e.link, err = os.Readlink(path); err != nil {
				return err
			}
		case info.IsDir():
		default:
			return nil // fifos, sockets: not part of a compiled state
		}
		s.entries = append(s.entries, e)
		return nil
	})
	return s, err
}

// restore empties root and tmp and writes the snapshot back into root, all
// as uid.
func (s *snapshot) restore(uid int, root, tmp string) error {
	return asUID(uid, func() error {
		for _, dir := range []string{root, tmp} {
			if err := emptyDir(dir); err != nil {
				return err
			}
		}
		for _, e := range s.entries {
			p := filepath.Join(root, e.rel)
			var err error
			switch {
			case e.mode.IsDir():
				err = os.Mkdir(p, 0o700)
			case e.mode&fs.ModeSymlink != 0:
				err = os.Symlink(e.link, p)
			default:
				err = os.WriteFile(p, e.data, 0o600)
			}
			if err == nil && e.mode&fs.ModeSymlink == 0 {
				err = os.Chmod(p, e.mode&(fs.ModePerm|fs.ModeSetgid|fs.ModeSticky))
			}
			if err != nil {
				return fmt.Errorf("restore %s: %w", e.rel, err)
			}
		}
		return nil
	})
}

// emptyDir removes everything in dir (not dir itself). The program may have
// taken permissions away from its own directories: as their owner, the
// thread gives them back before descending.
func emptyDir(dir string) error {
	names, err := readNames(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := removeTree(filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

func removeTree(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if fi.IsDir() {
		if fi.Mode().Perm()&0o700 != 0o700 {
			if err := os.Chmod(path, 0o700); err != nil {
				return fmt.Errorf("empty %s: %w", path, err)
			}
		}
		if err := emptyDir(path); err != nil {
			return err
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("empty %s: %w", path, err)
	}
	return nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
