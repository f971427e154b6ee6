//go:build linux

package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/execbox/app/pkg/job"
)

// pollInterval is how often CPU time and memory are sampled from /proc.
const pollInterval = 5 * time.Millisecond

// clockTick is USER_HZ, the unit of CPU times in /proc/PID/stat.
const clockTick = 10 * time.Millisecond

type runner struct {
	uid int
	env []string
	cg  cgroupCPU // nil without a readable cgroup (gVisor)
	shm cgroupShmem
	// self is this executable, the trampoline that sets the process limit
	// in the child (Spec.LimitInChild); empty otherwise.
	self string
	// maxStack caps RLIMIT_STACK (Spec.MaxStackBytes).
	maxStack int64
	// cpus is the sandbox's CPU quota (Spec.CPUs); 0: unknown.
	cpus float64
	// live is where the output goes as it is written; con, for an
	// interactive run, its stdin and signals (see live.go).
	live *emitter
	con  *console
	// cur names the step running now, for its live events.
	cur stepID
	// merge: stderr on the stdout pipe (Spec.MergeStderr).
	merge bool
}

// possible bounds CPU time measured per process over elapsed by what the
// sandbox's CPU quota allows (Spec.CPUs): gVisor counts the time a thread
// is runnable but throttled by the quota as its CPU time (measured: four
// spinning threads on one CPU reported 2 s in 1 s), so multi-threaded
// runtimes (Erlang's schedulers, the JVM) passed their CPU limits on
// paper. The clamp cannot hide real use: no process gets more than the
// quota.
func (r *runner) possible(cpu, elapsed time.Duration) time.Duration {
	if r.cpus <= 0 {
		return cpu
	}
	return min(cpu, time.Duration(float64(elapsed)*r.cpus))
}

func run(ctx context.Context, spec Spec, em *emitter, con *console) (Result, error) {
	if os.Getpid() != 1 {
		return Result{}, errors.New("refusing to run outside a sandbox container (not PID 1)")
	}
	if spec.UID <= 0 {
		return Result{}, fmt.Errorf("uid %d: want an unprivileged uid", spec.UID)
	}
	if len(spec.Run.Argv) == 0 {
		return Result{}, errors.New("no run command")
	}
	if err := writeFiles(spec.UID, spec.Files); err != nil {
		return Result{}, err
	}
	err := setStaticLimits(spec)
	if err != nil {
		return Result{}, err
	}
	r := &runner{uid: spec.UID, env: programEnv(os.Environ(), spec.Env), cg: newCgroupCPU(), shm: newCgroupShmem(), maxStack: spec.MaxStackBytes, cpus: spec.CPUs, live: em, con: con, merge: spec.MergeStderr}
	if spec.LimitInChild {
		if r.self, err = os.Executable(); err != nil {
			return Result{}, fmt.Errorf("find own executable: %w", err)
		}
	}
	var res Result
	if spec.Compile != nil && len(spec.Compile.Argv) > 0 {
		r.begin(stepID{name: "compile"})
		st, err := r.step(ctx, spec.Compile.Argv, nil, spec.Compile.Limits, nil, false)
		if err != nil {
			return Result{}, fmt.Errorf("compile: %w", err)
		}
		if st.Verdict != job.StatusAccepted {
			st.Verdict = job.StatusCompilationError
			res.Compile = &st
			return res, nil
		}
		res.Compile = &st
	}
	cases := spec.Tests
	if len(cases) == 0 {
		cases = []job.TestCase{{Stdin: spec.Stdin}}
	}
	// Each test case starts from the compiled state: a program must not
	// leave anything for the next case (a rewritten binary, answers cached
	// in /box or /tmp).
	var snap *snapshot
	if len(cases) > 1 {
		if err := asUID(spec.UID, func() (err error) { snap, err = takeSnapshot(WorkDir); return err }); err != nil {
			return Result{}, fmt.Errorf("snapshot the work directory: %w", err)
		}
	}
	for i, tc := range cases {
		if i > 0 {
			if err := snap.restore(spec.UID, WorkDir, TmpDir); err != nil {
				return Result{}, fmt.Errorf("run %d: restore the work directory: %w", i, err)
			}
		}
		r.begin(stepID{name: "run", test: i})
		st, err := r.step(ctx, spec.Run.Argv, []byte(tc.Stdin), spec.Run.Limits, tc.ExpectedOutput, true)
		if err != nil {
			return Result{}, fmt.Errorf("run %d: %w", i, err)
		}
		res.Runs = append(res.Runs, st)
	}
	return res, nil
}

// writeFiles writes the job's files into WorkDir as uid, so the program owns
// its sources and any directories.
func writeFiles(uid int, files []job.File) error {
	return asUID(uid, func() error {
		for _, f := range files {
			if !filepath.IsLocal(f.Name) {
				return fmt.Errorf("file name %q: must be a relative path inside the work directory", f.Name)
			}
			b, err := f.Bytes()
			if err != nil {
				return err
			}
			p := filepath.Join(WorkDir, f.Name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fmt.Errorf("write %s: %w", f.Name, err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", f.Name, err)
			}
		}
		return nil
	})
}

// setStaticLimits sets the rlimits every step shares on the agent itself;
// the steps inherit them. RLIMIT_NPROC's hard limit starts at the larger of
// the compile and run limits; stepLimits lowers it to the run limit for the
// run steps (a hard limit only goes down without CAP_SYS_RESOURCE, which a
// sandbox does not have, and every run step has the same limit).
func setStaticLimits(spec Spec) error {
	maxProcs := spec.Run.Limits.Processes
	if spec.Compile != nil {
		maxProcs = max(maxProcs, spec.Compile.Limits.Processes)
	}
	set := []struct {
		res  int
		soft uint64
		hard uint64
	}{
		{unix.RLIMIT_CORE, 0, 0},
		{unix.RLIMIT_FSIZE, uint64(orDefault(spec.FileBytes, 64<<20)), uint64(orDefault(spec.FileBytes, 64<<20))},
		{unix.RLIMIT_NOFILE, uint64(orDefault(spec.OpenFiles, 256)), uint64(orDefault(spec.OpenFiles, 256))},
	}
	if !spec.LimitInChild {
		set = append(set, struct {
			res  int
			soft uint64
			hard uint64
		}{unix.RLIMIT_NPROC, uint64(orDefault(maxProcs, 64)), uint64(orDefault(maxProcs, 64))})
	}
	for _, l := range set {
		if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: l.soft, Max: l.hard}); err != nil {
			return fmt.Errorf("setrlimit %d: %w", l.res, err)
		}
	}
	return nil
}

func orDefault(v, def int64) int64 {
	if v <= 0 {
		return def
	}
	return v
}

// stepLimits sets the per-step limits the step's processes inherit.
// RLIMIT_NPROC is counted per uid at fork, so it counts only the program's
// processes (the agent, uid 0, is exempt on Linux). For a run step its hard
// limit equals the soft one: with a higher hard limit the program could raise
// its own (a compiled C program with "processes": 2 forked 40). The compile
// step (the catalog's compiler) keeps the higher hard limit of
// setStaticLimits. With inChild the trampoline sets it instead (see
// Spec.LimitInChild).
func stepLimits(lim job.Limits, run, inChild bool, maxStack int64) error {
	// The stack may use the whole memory limit (deep recursion is legal),
	// up to the runtime's cap.
	stack := uint64(orDefault(lim.MemoryKB, 256<<10)) << 10
	if maxStack > 0 {
		stack = min(stack, uint64(maxStack))
	}
	if err := unix.Setrlimit(unix.RLIMIT_STACK, &unix.Rlimit{Cur: stack, Max: unix.RLIM_INFINITY}); err != nil {
		return fmt.Errorf("setrlimit stack: %w", err)
	}
	if inChild {
		return nil
	}
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &cur); err != nil {
		return err
	}
	cur.Cur = min(uint64(orDefault(lim.Processes, 64)), cur.Max)
	if run {
		cur.Max = cur.Cur
	}
	if err := unix.Setrlimit(unix.RLIMIT_NPROC, &cur); err != nil {
		return fmt.Errorf("setrlimit nproc: %w", err)
	}
	return nil
}

// requestLimits sets the rlimits a request may ask for beyond stepLimits'
// defaults: RLIMIT_STACK to the step's StackKB, and RLIMIT_FSIZE's soft
// limit to its FileKB under the hard limit of setStaticLimits (the work
// directory's size). step puts the file size soft limit back right after
// the fork, so the agent's own writes (restoring the work directory between
// runs) are never bounded by a program's limit.
func requestLimits(lim job.Limits) error {
	if lim.StackKB > 0 {
		stack := uint64(lim.StackKB) << 10
		if err := unix.Setrlimit(unix.RLIMIT_STACK, &unix.Rlimit{Cur: stack, Max: unix.RLIM_INFINITY}); err != nil {
			return fmt.Errorf("setrlimit stack: %w", err)
		}
	}
	if lim.FileKB > 0 {
		return setFileSoftLimit(uint64(lim.FileKB) << 10)
	}
	return nil
}

// setFileSoftLimit sets RLIMIT_FSIZE's soft limit to n bytes, at most the
// hard limit (RLIM_INFINITY: back to the hard limit).
func setFileSoftLimit(n uint64) error {
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &cur); err != nil {
		return fmt.Errorf("getrlimit fsize: %w", err)
	}
	cur.Cur = min(n, cur.Max)
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &cur); err != nil {
		return fmt.Errorf("setrlimit fsize: %w", err)
	}
	return nil
}

// ExecLimitedCommand is the hidden command (argv[1]) of the trampoline:
// "app agent-exec N PATH ARGV..." (see ExecLimited).
const ExecLimitedCommand = "agent-exec"

// ExecLimited is the trampoline a step's first process runs under
// Spec.LimitInChild, already as the program's uid: it sets RLIMIT_NPROC to n
// (hard = soft: the program cannot raise it) and execs path with argv.
func ExecLimited(args []string) error {
	if len(args) < 3 {
		return errors.New("usage: agent-exec N PATH ARGV0 [ARG...]")
	}
	n, err := strconv.ParseUint(args[0], 10, 64)
	if err != nil || n == 0 {
		return fmt.Errorf("agent-exec: process limit %q: want a positive integer", args[0])
	}
	if os.Getuid() == 0 {
		return errors.New("agent-exec: refusing to run as root")
	}
	if err := unix.Setrlimit(unix.RLIMIT_NPROC, &unix.Rlimit{Cur: n, Max: n}); err != nil {
		return fmt.Errorf("agent-exec: setrlimit nproc: %w", err)
	}
	return syscall.Exec(args[1], args[2:], os.Environ())
}

// programEnv is the agent's environment (the image's) with the fixed
// entries and the job's overrides applied.
func programEnv(base, overrides []string) []string {
	m := map[string]string{}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	delete(m, "HOSTNAME")
	m["HOME"] = WorkDir
	m["PWD"] = WorkDir
	m["TMPDIR"] = "/tmp"
	m["LANG"] = "C.UTF-8"
	if m["PATH"] == "" {
		m["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, kv := range overrides {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

var errNotFound = errors.New("command not found")

// lookPath resolves argv[0]: a name with a slash relative to WorkDir, a
// bare name along the program's PATH.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			name = filepath.Join(WorkDir, name)
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(envValue(env, "PATH")) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: %w in the image's PATH", name, errNotFound)
}

// killAll sends SIGKILL to every process in the container but the agent.
// Only PID 1 of a PID namespace may do this: anywhere else kill(-1) would
// reach the whole host.
func killAll() {
	if os.Getpid() != 1 {
		panic("agent: kill(-1) outside a sandbox")
	}
	_ = syscall.Kill(-1, syscall.SIGKILL)
}

// capture keeps the first max bytes of a stream and counts the rest.
type capture struct {
	max       int64
	buf       bytes.Buffer
	truncated bool
	// onData, when set, gets every captured piece as it arrives (the
	// combined output and the live events).
	onData func([]byte)
}

// drain reads r to EOF; overflow is called once when the cap is passed.
func (c *capture) drain(r io.Reader, overflow func()) {
	b := make([]byte, 32<<10)
	for {
		n, err := r.Read(b)
		if n > 0 {
			room := c.max - int64(c.buf.Len())
			switch {
			case int64(n) <= room:
				c.buf.Write(b[:n])
				c.seen(b[:n])
			default:
				if room > 0 {
					c.buf.Write(b[:room])
					c.seen(b[:room])
				}
				if !c.truncated {
					c.truncated = true
					overflow()
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// stepState is what the goroutines of one step share.
type stepState struct {
	mu     sync.Mutex
	reason string // which limit the agent killed the step for

	reapedCPU  atomic.Int64 // microseconds, of every reaped process
	maxRSS     atomic.Int64 // KB, largest ru_maxrss seen
	peakPolled atomic.Int64 // KB
	mainDone   atomic.Bool
}

func (s *stepState) kill(reason string) {
	s.mu.Lock()
	if s.reason == "" {
		s.reason = reason
	}
	s.mu.Unlock()
	killAll()
}

func (s *stepState) why() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// step runs argv once and measures it. An error means the agent could not
// run it at all (internal); everything the program does is in the Step.
func (r *runner) step(ctx context.Context, argv []string, stdin []byte, lim job.Limits, expected *string, isRun bool) (Step, error) {
	path, err := lookPath(argv[0], r.env)
	if err != nil {
		return Step{}, err
	}
	if err := stepLimits(lim, isRun, r.self != "", r.maxStack); err != nil {
		return Step{}, err
	}
	if err := requestLimits(lim); err != nil {
		return Step{}, err
	}
	execPath, execArgv := path, argv
	if r.self != "" {
		// Through the trampoline: it sets RLIMIT_NPROC (hard = soft) as
		// the program's uid, then execs the program.
		execPath = r.self
		execArgv = append([]string{r.self, ExecLimitedCommand, strconv.FormatInt(orDefault(lim.Processes, 64), 10), path}, argv...)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return Step{}, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return Step{}, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return Step{}, err
	}
	defer func() { _ = inW.Close(); _ = outR.Close(); _ = errR.Close() }()

	st := &stepState{}
	// The sandbox's CPU since now, minus the agent's own: every process of
	// the step, also those the kernel reaped without a wait.
	sandboxCPU := func() time.Duration { return 0 }
	if r.cg != nil {
		if base, ok := r.cg(); ok {
			selfBase := selfCPU()
			sandboxCPU = func() time.Duration {
				now, ok := r.cg()
				if !ok {
					return 0
				}
				return max(now-base-(selfCPU()-selfBase), 0)
			}
		}
	}
	files := []uintptr{inR.Fd(), outW.Fd(), errW.Fd()}
	if r.merge {
		files[2] = outW.Fd() // stderr's pipe stays unused and ends at once
	}
	start := time.Now()
	pid, err := forkExecFirstToDie(execPath, execArgv, &syscall.ProcAttr{
		Dir:   WorkDir,
		Env:   r.env,
		Files: files,
		Sys: &syscall.SysProcAttr{
			Setsid:     true,
			Credential: &syscall.Credential{Uid: uint32(r.uid), Gid: uint32(r.uid), Groups: []uint32{}},
		},
	})
	if lim.FileKB > 0 {
		// The child has its limit; the agent's own writes have none.
		_ = setFileSoftLimit(unix.RLIM_INFINITY)
	}
	_ = inR.Close()
	_ = outW.Close()
	_ = errW.Close()
	if errors.Is(err, errConfine) {
		return Step{}, err
	}
	if err != nil {
		code := 126
		if errors.Is(err, syscall.ENOENT) {
			code = 127
		}
		return Step{Step: job.Step{
			Verdict: job.StatusRuntimeError, ExitCode: code,
			Message: fmt.Sprintf("cannot start %s: %v", argv[0], err),
		}}, nil
	}

	stdout := &capture{max: orDefault(lim.OutputBytes, 1<<20)}
	stderr := &capture{max: orDefault(lim.OutputBytes, 1<<20)}
	combined := r.watch(stdout, stderr)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); stdout.drain(outR, func() { st.kill("output") }) }()
	go func() { defer wg.Done(); stderr.drain(errR, func() { st.kill("output") }) }()
	con := r.console(isRun)
	if con != nil {
		go con.feed(inW)
	} else {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = inW.Write(stdin)
			_ = inW.Close()
		}()
	}

	allGone := make(chan struct{})
	var (
		mainStatus syscall.WaitStatus
		wall       time.Duration
	)
	go func() { // reaper: PID 1 reaps every process of the step, orphans included
		defer close(allGone)
		for {
			var ws syscall.WaitStatus
			var ru syscall.Rusage
			wpid, err := syscall.Wait4(-1, &ws, 0, &ru)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil {
				return // ECHILD: no process is left in the container
			}
			st.reapedCPU.Add(tvMicros(ru.Utime) + tvMicros(ru.Stime))
			if ru.Maxrss > st.maxRSS.Load() {
				st.maxRSS.Store(ru.Maxrss)
			}
			if wpid == pid {
				wall = time.Since(start)
				mainStatus = ws
				st.mainDone.Store(true)
				killAll() // nothing outlives the main process
			}
		}
	}()

	wallLimit := time.Duration(orDefault(lim.WallTimeMs, 5000)) * time.Millisecond
	cpuLimit := time.Duration(orDefault(lim.CPUTimeMs, 2000)) * time.Millisecond
	memLimitKB := orDefault(lim.MemoryKB, 256<<10)
	deadline := time.NewTimer(wallLimit)
	defer deadline.Stop()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	pageKB := int64(os.Getpagesize() / 1024)
	canceled := ctx.Done()
	signals := con.signals()
poll:
	for {
		select {
		case <-allGone:
			break poll
		case name := <-signals:
			if !st.mainDone.Load() {
				signalGroup(pid, name)
			}
		case <-canceled:
			canceled = nil
			st.kill("canceled")
		case <-deadline.C:
			st.kill("wall")
		case <-ticker.C:
			if st.mainDone.Load() {
				killAll() // stragglers that forked while being killed
				continue
			}
			reaped := st.reapedCPU.Load()
			liveTicks, rssPages, lowered := scanProc()
			if lowered {
				st.kill("oom_score")
			}
			// Shared memory no process maps (memfds) is the program's too.
			if rss := rssPages*pageKB + unseenShmem(r.shm, WorkDir, TmpDir); rss > st.peakPolled.Load() {
				st.peakPolled.Store(rss)
			}
			perProc := r.possible(time.Duration(reaped)*time.Microsecond+time.Duration(liveTicks)*clockTick, time.Since(start))
			if perProc > cpuLimit || sandboxCPU() > cpuLimit {
				st.kill("cpu")
			}
			if st.peakPolled.Load() > memLimitKB {
				st.kill("memory")
			}
			if con.idle() {
				st.kill("idle")
			}
		}
	}
	wg.Wait()
	con.stop()
	r.live.endStep(r.cur.name, r.cur.test)

	cpu := max(r.possible(time.Duration(st.reapedCPU.Load())*time.Microsecond, wall), sandboxCPU())
	step := job.Step{
		Stdout:     job.NewOutput(stdout.buf.Bytes(), stdout.truncated),
		Stderr:     job.NewOutput(stderr.buf.Bytes(), stderr.truncated),
		Output:     combined.output(stdout.truncated || stderr.truncated),
		CPUTimeMs:  ms(cpu),
		WallTimeMs: ms(wall),
		MemoryKB:   max(st.maxRSS.Load(), st.peakPolled.Load()),
	}
	if mainStatus.Signaled() {
		step.Signal = unix.SignalName(mainStatus.Signal())
		step.ExitCode = 128 + int(mainStatus.Signal())
	} else {
		step.ExitCode = mainStatus.ExitStatus()
	}
	out := Step{Step: step}
	out.Verdict, out.LimitExceeded = verdict(st.why(), mainStatus, cpu, cpuLimit, step.MemoryKB, memLimitKB)
	if out.Verdict == job.StatusRuntimeError && st.why() == "" && mainStatus.Signaled() && mainStatus.Signal() == syscall.SIGKILL {
		out.UnexplainedKill = true
	}
	if out.Verdict == job.StatusAccepted && expected != nil && !OutputMatches(stdout.buf.Bytes(), []byte(*expected)) {
		out.Verdict = job.StatusWrongAnswer
	}
	out.Message = message(out.Step, lim)
	if st.why() == "oom_score" {
		out.Message = "lowered its OOM score (oom_score_adj): a sandboxed program must stay the OOM killer's first choice"
	}
	return out, nil
}

// forkExecFirstToDie is syscall.ForkExec with the program marked as the
// first process to kill when the sandbox runs out of memory (oom_score_adj
// 1000). Memory the supervisor's polling cannot see (a memfd or tmpfs file
// that no process maps) is stopped only by the memory cgroup's OOM killer,
// which otherwise picks the process with the largest RSS: often the
// supervisor itself, and then the job ends without its result. A child
// inherits oom_score_adj at fork, so the supervisor raises its own around
// the fork. Steps run one at a time, so nothing else forks meanwhile.
//
// The program could lower its score again, down to the floor it shares
// with the agent (only CAP_SYS_RESOURCE raises that floor, and sandboxes
// cannot have it): it is forked from a thread confined by Landlock
// (confineProc), so it cannot open /proc/self/oom_score_adj for writing.
// Where the kernel has no Landlock (before 5.13; gVisor, whose OOM scores
// the host's OOM killer never sees: it kills the whole sandbox) scanProc
// still catches a lowered score and the step is killed. Best effort:
// without /proc the job still runs, and the driver still reports a kill of
// the whole sandbox as memory_limit_exceeded.
// errConfine: the program could not be confined (an internal error).
var errConfine = errors.New("confine the program")

func forkExecFirstToDie(path string, argv []string, attr *syscall.ProcAttr) (int, error) {
	const adjFile = "/proc/self/oom_score_adj"
	orig, err := os.ReadFile(adjFile)
	if err == nil {
		_ = os.WriteFile(adjFile, []byte("1000"), 0)
		defer func() { _ = os.WriteFile(adjFile, orig, 0) }()
	}
	var pid int
	err = onThrowawayThread(func() error {
		// Without Landlock scanProc watches the score instead.
		if err := confineProc(); err != nil && !errors.Is(err, errNoLandlock) {
			return fmt.Errorf("%w: %w", errConfine, err)
		}
		var err error
		pid, err = syscall.ForkExec(path, argv, attr)
		return err
	})
	return pid, err
}
