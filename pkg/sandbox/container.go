package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/execbox/app/pkg/agent"
	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/live"
)

// need is what a job needs from its container's cgroup.
type need struct {
	memoryKB  int64 // largest step memory limit
	processes int64 // largest step process limit
}

func (n need) fits(in need) bool { return n.memoryKB <= in.memoryKB && n.processes <= in.processes }

// sandbox is one started container whose agent waits for its job.
type sandbox struct {
	id   string
	lang string
	cap  need
	hj   types.HijackedResponse

	out  *frames        // the agent's stdout: live events, then its result
	errs *boundedBuffer // the agent's stderr: diagnostics
	done chan struct{}  // closed when the attach stream ends (the agent exited)
	rerr error          // the stream's read error, set before done closes
	once sync.Once
}

// alive reports whether the container's agent is still waiting.
func (s *sandbox) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// SupervisorCaps are the only capabilities a sandbox keeps, all for the
// supervisor (the program runs under another uid and has none): SETUID and
// SETGID switch to the program's uid, KILL kills its processes.
func SupervisorCaps() []string { return []string{"SETUID", "SETGID", "KILL"} }

// gvisorMaxStack is the largest stack gVisor (20221219) grows, whatever
// RLIMIT_STACK says (measured: a C recursion segfaults past 128 MiB): the
// agent caps the limit there (see agent.Spec.MaxStackBytes).
const gvisorMaxStack = 128 << 20

// gvisorPidsPerTask scales the pids limit under runsc (see hardened).
const gvisorPidsPerTask = 16

// gvisor reports whether runtime is gVisor's runsc (or a variant of it
// registered as runsc-*).
func gvisor(runtime string) bool { return strings.HasPrefix(runtime, "runsc") }

// hostConfig is the hardening every sandbox gets; only validated config
// and the clamped limits feed it, never raw request fields.
func (d *Driver) hostConfig(n need) *container.HostConfig {
	return d.hardened(n, d.agent.name(), true)
}

// hardened is the host configuration of a sandbox (the agent volume vol
// read-only) and of the helper that fills that volume (read-write, never
// started): one shape, which the Docker API guard (pkg/dockerguard) checks.
func (d *Driver) hardened(n need, vol string, readOnly bool) *container.HostConfig {
	mem := n.memoryKB<<10 + d.cfg.WorkDirBytes + d.cfg.TmpBytes + d.cfg.MemoryHeadroomBytes
	pids := n.processes + d.cfg.PidsReserve
	if gvisor(d.cfg.Runtime) {
		// gVisor: the program's processes are tasks of the sentry, which
		// enforces RLIMIT_NPROC itself; the container's pids limit counts
		// the sentry's host threads, about six per task (measured: 411
		// for 66 tasks, more when the host is loaded and more of the
		// sentry's goroutines block at once), and when the sentry cannot
		// get one the whole sandbox dies (exit 2, as a fork bomb did on a
		// loaded CI machine with 8 per task). The program's own processes
		// stay bounded by RLIMIT_NPROC in the sentry; this limit only
		// bounds the sentry, so it is generous.
		pids = pids*gvisorPidsPerTask + 1024
	}
	return &container.HostConfig{
		NetworkMode:    "none",
		ReadonlyRootfs: true,
		IpcMode:        "none",
		Privileged:     false,
		CapDrop:        []string{"ALL"},
		CapAdd:         SupervisorCaps(),
		SecurityOpt:    SecurityOpt(d.cfg.Runtime),
		Tmpfs: map[string]string{
			// nr_inodes: millions of empty files end as ENOSPC, not as
			// kernel memory charged to the sandbox (gVisor ignores it).
			agent.WorkDir: fmt.Sprintf("rw,exec,nosuid,nodev,size=%d,nr_inodes=%d,mode=1777", d.cfg.WorkDirBytes, d.cfg.WorkDirInodes),
			agent.TmpDir:  fmt.Sprintf("rw,exec,nosuid,nodev,size=%d,nr_inodes=%d,mode=1777", d.cfg.TmpBytes, d.cfg.TmpInodes),
		},
		Mounts: []mount.Mount{{
			Type: mount.TypeVolume, Source: vol, Target: AgentDir, ReadOnly: readOnly,
			VolumeOptions: &mount.VolumeOptions{NoCopy: true},
		}},
		Resources: container.Resources{
			Memory:     mem,
			MemorySwap: mem,
			NanoCPUs:   int64(d.cfg.CPUs * 1e9),
			PidsLimit:  &pids,
			Ulimits: []*container.Ulimit{
				{Name: "nofile", Soft: d.cfg.OpenFiles, Hard: d.cfg.OpenFiles},
				{Name: "fsize", Soft: d.cfg.WorkDirBytes, Hard: d.cfg.WorkDirBytes},
				{Name: "core", Soft: 0, Hard: 0},
			},
		},
		LogConfig: container.LogConfig{Type: "none"},
		Runtime:   d.cfg.Runtime,
	}
}

// create creates, attaches and starts a sandbox for lang sized for n.
func (d *Driver) create(ctx context.Context, lang catalog.Language, n need, jobID string) (*sandbox, error) {
	if err := d.images.ensure(ctx, lang.Image); err != nil {
		return nil, err
	}
	if err := d.agent.ensure(ctx, lang.Image); err != nil {
		return nil, fmt.Errorf("agent volume: %w", err)
	}
	start := time.Now()
	labels := map[string]string{LabelExecutor: d.cfg.Instance, LabelLanguage: lang.ID}
	if jobID != "" {
		labels[LabelJob] = jobID
	}
	cfg := &container.Config{
		Image:           lang.Image,
		Entrypoint:      []string{AgentDir + "/app"},
		Cmd:             []string{"agent"},
		User:            "0:0",
		Hostname:        "sandbox",
		Labels:          labels,
		AttachStdin:     true,
		AttachStdout:    true,
		AttachStderr:    true,
		OpenStdin:       true,
		StdinOnce:       true,
		NetworkDisabled: true,
	}
	cr, err := d.docker.ContainerCreate(ctx, cfg, d.hostConfig(n), nil, nil, "")
	if err != nil {
		return nil, fmt.Errorf("create sandbox for %s (%s): %w", lang.ID, lang.Image, err)
	}
	sb := &sandbox{id: cr.ID, lang: lang.ID, cap: n, done: make(chan struct{}),
		out: newFrames(d.cfg.MaxResultBytes), errs: &boundedBuffer{max: 16 << 10}}
	fail := func(err error) (*sandbox, error) {
		d.remove(cr.ID)
		return nil, err
	}
	hj, err := d.docker.ContainerAttach(ctx, cr.ID, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return fail(fmt.Errorf("attach sandbox: %w", err))
	}
	sb.hj = hj
	go func() {
		_, err := stdcopy.StdCopy(sb.out, sb.errs, hj.Reader)
		sb.rerr = err
		close(sb.done)
	}()
	if err := d.docker.ContainerStart(ctx, cr.ID, container.StartOptions{}); err != nil {
		hj.Close()
		d.agent.invalidate()
		return fail(fmt.Errorf("start sandbox for %s (%s): %w", lang.ID, lang.Image, err))
	}
	d.metrics.containerStart.Observe(time.Since(start).Seconds())
	return sb, nil
}

// acquire takes a pooled sandbox that fits, or creates one.
func (d *Driver) acquire(ctx context.Context, lang catalog.Language, n need, jobID string) (*sandbox, bool, error) {
	d.mu.Lock()
	p := d.pools[lang.ID]
	d.mu.Unlock()
	if p != nil && n.fits(p.need) {
		if sb := p.take(); sb != nil {
			return sb, true, nil
		}
	}
	sb, err := d.create(ctx, lang, n, jobID)
	return sb, false, err
}

// discard removes a used sandbox in the background.
func (d *Driver) discard(sb *sandbox) {
	sb.once.Do(func() {
		sb.hj.Close()
		d.remove(sb.id)
	})
}

func (d *Driver) remove(id string) {
	d.removals.Add(1)
	go func() {
		defer d.removals.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.docker.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			d.log.Warn("remove sandbox", "container", short(id), "err", err)
		}
	}()
}

// kill stops a sandbox now (cancel, deadline): removing it kills the agent
// and every process, which ends the attach stream.
func (d *Driver) kill(sb *sandbox) {
	sb.once.Do(func() {
		sb.hj.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.docker.ContainerRemove(ctx, sb.id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			d.log.Warn("kill sandbox", "container", short(sb.id), "err", err)
		}
	})
}

// run sends spec to the agent (then, for an interactive job, lio.Input
// until it closes) and waits for its result; its live events go to
// lio.Output meanwhile.
func (sb *sandbox) run(ctx context.Context, spec agent.Spec, timeout time.Duration, lio live.IO) (agent.Result, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return agent.Result{}, fmt.Errorf("encode job: %w", err)
	}
	sb.out.setSink(lio.Output)
	if _, err := sb.hj.Conn.Write(b); err != nil {
		return agent.Result{}, fmt.Errorf("send job to sandbox: %w", err)
	}
	stop := make(chan struct{})
	defer close(stop)
	if spec.Interactive && lio.Input != nil {
		go sb.feed(lio.Input, stop)
	} else if err := sb.hj.CloseWrite(); err != nil {
		return agent.Result{}, fmt.Errorf("close sandbox stdin: %w", err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-sb.out.line:
	case <-sb.done:
	case <-ctx.Done():
		return agent.Result{}, ctx.Err()
	case <-timer.C:
		return agent.Result{}, fmt.Errorf("sandbox gave no result within %s", timeout)
	}
	return sb.out.get()
}

// feed writes inputs to the agent, one JSON line each, until in closes
// (then the agent's stdin closes) or the run ends. A write blocks while the
// agent does not read: stdin is never dropped.
func (sb *sandbox) feed(in <-chan live.Input, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case m, ok := <-in:
			if !ok {
				_ = sb.hj.CloseWrite()
				return
			}
			b, err := json.Marshal(m)
			if err != nil {
				continue
			}
			if _, err := sb.hj.Conn.Write(append(b, '\n')); err != nil {
				return
			}
		}
	}
}

var errNoResult = errors.New("sandbox ended without a result")

// state inspects a finished (or finishing) sandbox: whether the kernel's
// OOM killer struck in its cgroup, and how it exited.
func (d *Driver) state(ctx context.Context, sb *sandbox) (oom bool, desc string) {
	oom, _, desc = d.exitState(ctx, sb)
	return oom, desc
}

// exitState is state with the container's exit code.
func (d *Driver) exitState(ctx context.Context, sb *sandbox) (oom bool, exit int, desc string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	waitC, errC := d.docker.ContainerWait(ctx, sb.id, container.WaitConditionNotRunning)
	select {
	case <-waitC:
	case <-errC:
	case <-ctx.Done():
	}
	ins, err := d.docker.ContainerInspect(ctx, sb.id)
	if err != nil || ins.State == nil {
		return false, 0, fmt.Sprintf("inspect: %v", err)
	}
	desc = "exit code " + strconv.Itoa(ins.State.ExitCode)
	if ins.State.OOMKilled {
		desc += ", OOM killed"
	}
	if ins.State.Error != "" {
		desc += ", " + ins.State.Error
	}
	if tail := strings.TrimSpace(string(sb.errs.Bytes())); tail != "" {
		desc += ": " + tail
	}
	return ins.State.OOMKilled, ins.State.ExitCode, desc
}

// boundedBuffer keeps the first max bytes written and drops the rest.
type boundedBuffer struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - b.buf.Len()
	if len(p) > room {
		b.overflow = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}

func (b *boundedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes()
}
