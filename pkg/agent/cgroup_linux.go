//go:build linux

package agent

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cgroupCPU reads the CPU time used so far by every process of the
// sandbox's cgroup, reaped or not. Per-process accounting (wait4's rusage,
// /proc/PID/stat) misses a child reaped by the kernel (its parent set
// SIGCHLD to SIG_IGN): its time reaches no one's rusage. The cgroup counts
// it. Docker mounts the container's own cgroup read-only at /sys/fs/cgroup:
// cgroup v2 has cpu.stat (usage_usec), v1 the cpuacct controller
// (cpuacct.usage, nanoseconds). A nil reader means there is none (gVisor
// 20221219 has no cgroupfs): per-process accounting is all there is.
type cgroupCPU func() (time.Duration, bool)

// cgroupRoot is where the container's cgroup is mounted.
const cgroupRoot = "/sys/fs/cgroup"

func newCgroupCPU() cgroupCPU {
	for _, path := range cgroupCPUFiles(cgroupRoot, readFileOr("/proc/self/cgroup")) {
		r := cgroupCPUFile(path)
		if _, ok := r(); ok {
			return r
		}
	}
	return nil
}

func readFileOr(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

// cgroupCPUFiles lists the candidate usage files, most specific first.
// Under cgroup v2 /proc/self/cgroup is "0::PATH": PATH is "/" in the
// container's own cgroup namespace (Docker's default on v2); with the host's
// namespace the container's cgroup is PATH below the mount, and the mount's
// own cpu.stat (the host's) must not be read.
func cgroupCPUFiles(root string, selfCgroup []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(selfCgroup))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			if p == "/" {
				out = append(out, filepath.Join(root, "cpu.stat"))
			} else {
				out = append(out, filepath.Join(root, p, "cpu.stat"))
			}
		}
	}
	// cgroup v1: Docker bind-mounts the container's own cpuacct directory.
	return append(out,
		filepath.Join(root, "cpuacct", "cpuacct.usage"),
		filepath.Join(root, "cpu,cpuacct", "cpuacct.usage"),
		filepath.Join(root, "cpuacct,cpu", "cpuacct.usage"))
}

func cgroupCPUFile(path string) cgroupCPU {
	v2 := filepath.Base(path) == "cpu.stat"
	return func() (time.Duration, bool) {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, false
		}
		if v2 {
			return parseCPUStat(b)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, false
		}
		return time.Duration(n), true
	}
}

// parseCPUStat reads usage_usec from a cgroup v2 cpu.stat.
func parseCPUStat(b []byte) (time.Duration, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, false
			}
			return time.Duration(n) * time.Microsecond, true
		}
	}
	return 0, false
}
