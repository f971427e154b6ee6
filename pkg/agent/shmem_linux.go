//go:build linux

package agent

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cgroupShmem reads the shared memory (shmem) charged to the sandbox's
// cgroup, in bytes. Shared memory that no process maps (a memfd, SysV
// shared memory with no attachment) shows in no process's RSS, so the
// per-process polling cannot see it and only the cgroup's OOM killer would
// stop it: the kernel may then take the supervisor instead of the program
// (after reaping the program's anonymous memory it skips it while its
// files, and so the memfds, are still being released). Counted as the
// program's memory, it ends the step as memory_limit_exceeded well before
// the container's hard limit. The work directory and /tmp are tmpfs and
// charged as shmem too; they have their own size caps and are taken off
// (unseenShmem). A nil reader: no readable memory cgroup (gVisor).
type cgroupShmem func() (int64, bool)

func newCgroupShmem() cgroupShmem {
	for _, c := range cgroupMemStatFiles(cgroupRoot, readFileOr("/proc/self/cgroup")) {
		r := cgroupShmemFile(c.path, c.key)
		if _, ok := r(); ok {
			return r
		}
	}
	return nil
}

type memStatFile struct{ path, key string }

// cgroupMemStatFiles lists the candidate memory.stat files (most specific
// first) and the key of the shmem line in each: cgroup v2 "shmem", v1
// "total_shmem" (hierarchical, as the limit is).
func cgroupMemStatFiles(root string, selfCgroup []byte) []memStatFile {
	var out []memStatFile
	sc := bufio.NewScanner(bytes.NewReader(selfCgroup))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			out = append(out, memStatFile{filepath.Join(root, p, "memory.stat"), "shmem"})
		}
	}
	return append(out, memStatFile{filepath.Join(root, "memory", "memory.stat"), "total_shmem"})
}

func cgroupShmemFile(path, key string) cgroupShmem {
	return func() (int64, bool) {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, false
		}
		return parseMemStat(b, key)
	}
}

// parseMemStat reads the value of key from a memory.stat.
func parseMemStat(b []byte, key string) (int64, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// unseenShmem is the cgroup's shmem beyond what the tmpfs mounts hold, in
// KB: memory the program holds outside any process's RSS.
func unseenShmem(shm cgroupShmem, tmpfs ...string) int64 {
	if shm == nil {
		return 0
	}
	total, ok := shm()
	if !ok {
		return 0
	}
	for _, dir := range tmpfs {
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) == nil {
			total -= int64(st.Blocks-st.Bfree) * st.Bsize
		}
	}
	return max(total, 0) >> 10
}
