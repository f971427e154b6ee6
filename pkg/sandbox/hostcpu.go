package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/execbox/app/pkg/agent"
	"github.com/execbox/app/pkg/job"
)

// Under gVisor the agent cannot account the CPU of processes the kernel
// reaps itself (a parent with SIGCHLD ignored: their time reaches no
// rusage), because gVisor (20221219) shows no cgroup inside the sandbox.
// The host can: the executor reads the sandbox's cgroup CPU usage through
// the Docker Engine's stats API while the job runs, and removes the sandbox
// when the whole job has used more than its CPU limits allow. The budget is
// generous (the host's figure includes gVisor's own kernel, the sentry, and
// the supervisor), so it only ends what hides its CPU time; the per-step
// limits stay the agent's.

// hostCPUInterval is how often the sandbox's CPU usage is read: each read
// runs `runsc events --stats` on the host, so not too often.
const hostCPUInterval = time.Second

// hostCPUBudget is what a job may use in total, as the host measures it:
// half again its CPU limits (compile once, run per test case) plus 2 s for
// the sandbox's start and the sentry. runs is the part of it for the run
// steps, which the finished job is held to once the compile's own CPU time
// is known (the compiler, the catalog's, hides nothing; a whole compile
// budget left unused would otherwise be the program's to burn).
func hostCPUBudget(spec agent.Spec) (total, runs time.Duration) {
	var compile time.Duration
	if spec.Compile != nil {
		compile = time.Duration(spec.Compile.Limits.CPUTimeMs) * time.Millisecond
	}
	run := time.Duration(max(len(spec.Tests), 1)) * time.Duration(spec.Run.Limits.CPUTimeMs) * time.Millisecond
	return (compile+run)*3/2 + 2*time.Second, run*3/2 + 2*time.Second
}

// cpuWatch polls a sandbox's host CPU usage until stopped.
type cpuWatch struct {
	budget   time.Duration
	used     atomic.Int64 // ns since the first reading
	exceeded atomic.Bool
	stop     context.CancelFunc
	done     sync.WaitGroup
}

// watchHostCPU starts polling sb; over is called once when the job passes
// budget. The first reading is the baseline (taken in the background, so
// the job does not wait for it; what runs before it lands is not counted).
func (d *Driver) watchHostCPU(ctx context.Context, sb *sandbox, budget time.Duration, over func()) *cpuWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &cpuWatch{budget: budget, stop: cancel}
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		base, ok := d.hostCPU(ctx, sb.id)
		if !ok {
			return
		}
		t := time.NewTicker(hostCPUInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now, ok := d.hostCPU(ctx, sb.id)
			if !ok {
				continue
			}
			w.used.Store(int64(now - base))
			if now-base > budget {
				w.exceeded.Store(true)
				over()
				return
			}
		}
	}()
	return w
}

// finish stops the watch and reports whether the budget was passed.
func (w *cpuWatch) finish() bool {
	w.stop()
	w.done.Wait()
	return w.exceeded.Load()
}

// hostCPU is the sandbox's cgroup CPU usage so far, from the Engine.
func (d *Driver) hostCPU(ctx context.Context, id string) (time.Duration, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r, err := d.docker.ContainerStatsOneShot(ctx, id)
	if err != nil {
		d.log.Debug("sandbox CPU usage unavailable", "container", short(id), "err", err)
		return 0, false
	}
	defer r.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil || st.CPUStats.CPUUsage.TotalUsage == 0 {
		d.log.Debug("sandbox CPU usage unreadable", "container", short(id), "err", err)
		return 0, false
	}
	d.log.Debug("sandbox CPU usage", "container", short(id), "ns", st.CPUStats.CPUUsage.TotalUsage)
	return time.Duration(st.CPUStats.CPUUsage.TotalUsage), true
}

// check holds a finished job to the run steps' budget: what the host saw
// beyond the compile's own CPU time. The last reading is at most one
// interval old, so it undercounts, never over.
func (w *cpuWatch) check(res job.Result, runs time.Duration) job.Result {
	used := time.Duration(w.used.Load())
	if res.Compile != nil {
		used -= time.Duration(res.Compile.CPUTimeMs * float64(time.Millisecond))
	}
	switch res.Status {
	case job.StatusAccepted, job.StatusWrongAnswer, job.StatusRuntimeError:
	default:
		return res // already ended by a limit, or not run
	}
	if used <= runs {
		return res
	}
	out := w.result(used, runs)
	out.Compile = res.Compile
	return out
}

// result is the result of a job whose sandbox passed its budget.
func (w *cpuWatch) result(used, budget time.Duration) job.Result {
	msg := fmt.Sprintf("the sandbox used %d ms of CPU as the host measures it, over the %d ms its CPU limits allow: its processes hid CPU time from the supervisor (children reaped with SIGCHLD ignored)",
		used.Milliseconds(), budget.Milliseconds())
	return job.Result{Status: job.StatusTimeLimit, Message: msg, Run: &job.Step{
		Verdict: job.StatusTimeLimit, LimitExceeded: "cpu", CPUTimeMs: float64(used.Microseconds()) / 1000, Message: msg,
	}}
}
