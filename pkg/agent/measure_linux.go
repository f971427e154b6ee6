//go:build linux

package agent

// How a step is measured and judged: CPU time and memory sampled from /proc,
// the verdict from why the agent killed the step and how it ended.

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/execbox/app/pkg/job"
)

// verdict decides a step's outcome from why the agent killed it (if it
// did), how the main process ended and what it used.
func verdict(reason string, ws syscall.WaitStatus, cpu, cpuLimit time.Duration, memKB, memLimitKB int64) (job.Status, string) {
	switch {
	case reason == "output":
		return job.StatusOutputLimit, "output"
	case reason == "wall":
		return job.StatusTimeLimit, "wall"
	case reason == "idle":
		return job.StatusTimeLimit, "idle"
	case reason == "cpu" || cpu > cpuLimit:
		return job.StatusTimeLimit, "cpu"
	case reason == "memory" || memKB > memLimitKB:
		return job.StatusMemoryLimit, "memory"
	case reason == "canceled":
		return job.StatusCanceled, ""
	case reason == "oom_score":
		return job.StatusRuntimeError, ""
	case ws.Signaled() && ws.Signal() == syscall.SIGXCPU:
		return job.StatusTimeLimit, "cpu"
	case ws.Signaled() && ws.Signal() == syscall.SIGXFSZ:
		return job.StatusOutputLimit, "file"
	case ws.Signaled(), ws.ExitStatus() != 0:
		return job.StatusRuntimeError, ""
	}
	return job.StatusAccepted, ""
}

func message(s job.Step, lim job.Limits) string {
	switch s.LimitExceeded {
	case "file":
		if lim.FileKB > 0 {
			return fmt.Sprintf("file size limit of %d KB exceeded (SIGXFSZ)", lim.FileKB)
		}
		return "file size limit exceeded (SIGXFSZ)"
	case "wall":
		return fmt.Sprintf("wall time limit of %d ms exceeded", lim.WallTimeMs)
	case "cpu":
		return fmt.Sprintf("CPU time limit of %d ms exceeded", lim.CPUTimeMs)
	case "memory":
		return fmt.Sprintf("memory limit of %d KB exceeded", lim.MemoryKB)
	case "output":
		return fmt.Sprintf("output limit of %d bytes per stream exceeded", lim.OutputBytes)
	case "idle":
		return "interactive session idle: no input and no output for too long"
	}
	if s.Signal != "" {
		return "killed by " + s.Signal
	}
	return ""
}

func tvMicros(tv syscall.Timeval) int64 { return tv.Sec*1e6 + tv.Usec }

// selfCPU is the agent's own CPU time (all its threads).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(tvMicros(ru.Utime)+tvMicros(ru.Stime)) * time.Microsecond
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// scanProc sums CPU ticks (own and reaped children's) and resident pages
// over every process in the container but the agent, and reports whether one
// has lowered its oom_score_adj below 1000. The program starts at 1000 (see
// forkExecFirstToDie) and may lower it again down to the agent's own value,
// which no write can prevent without CAP_SYS_RESOURCE (a sandbox has none):
// the agent kills the step instead, long before memory a lowered program
// filled could make the OOM killer choose the agent.
func scanProc() (ticks, rssPages int64, lowered bool) {
	d, err := os.Open("/proc")
	if err != nil {
		return 0, 0, false
	}
	names, _ := d.Readdirnames(-1)
	_ = d.Close()
	buf := make([]byte, 1024)
	for _, n := range names {
		if n == "1" || n == "" || n[0] < '0' || n[0] > '9' {
			continue
		}
		f, err := os.Open("/proc/" + n + "/stat")
		if err != nil {
			continue
		}
		k, _ := f.Read(buf)
		_ = f.Close()
		t, rss, ok := parseStat(buf[:k])
		if ok {
			ticks += t
			rssPages += rss
		}
		if f, err := os.Open("/proc/" + n + "/oom_score_adj"); err == nil {
			k, _ := f.Read(buf)
			_ = f.Close()
			if v, err := strconv.Atoi(strings.TrimSpace(string(buf[:k]))); err == nil && v < 1000 {
				lowered = true
			}
		}
	}
	return ticks, rssPages, lowered
}

// parseStat reads utime+stime+cutime+cstime and rss from /proc/PID/stat.
func parseStat(b []byte) (ticks, rss int64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime is field 14, rss field 24.
	if len(f) < 22 {
		return 0, 0, false
	}
	for _, idx := range []int{11, 12, 13, 14} {
		v, err := strconv.ParseInt(f[idx], 10, 64)
		if err != nil {
			return 0, 0, false
		}
		ticks += v
	}
	rss, err := strconv.ParseInt(f[21], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return ticks, rss, true
}
