// Package sandbox is the Docker Engine driver behind the executor: it runs
// each job in a fresh, hardened container whose PID 1 is the execbox agent
// (pkg/agent), and implements pkg/executor.Executor.
//
// Per job: one container, never reused (a pooled container is started ahead
// of time but still serves exactly one job). The container's stdin carries
// the job (JSON; for an interactive job then its inputs, one live.Input per
// line), its stdout the agent's frames: live events as the program writes,
// then the result (one agent.Frame per line); nothing goes through the
// archive API except the agent binary, copied once into a named volume.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/execbox/app/pkg/agent"
	"github.com/execbox/app/pkg/backoff"
	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
)

// Labels on every container and volume the driver creates.
const (
	LabelExecutor = "execbox.executor" // the owning executor instance
	LabelLanguage = "execbox.language"
	LabelJob      = "execbox.job"
	LabelAgent    = "execbox.agent" // on agent volumes
)

// AgentDir is where the agent volume is mounted (read-only) in sandboxes.
const AgentDir = "/opt/execbox"

// Config configures the driver. Zero values take the defaults noted.
type Config struct {
	Catalog *catalog.Catalog
	// Instance names this executor; its containers carry it as a label and
	// are removed at start and shutdown. Default: the host name.
	Instance string
	// Slots is how many jobs run at once (default 2); beyond, Execute
	// returns *executor.BusyError.
	Slots int
	// PoolSize is the most started, idle sandboxes kept per language
	// (0: no warm pool). Which languages are warm follows demand; see
	// pool.go for the policy.
	PoolSize int
	// PoolLanguages are pinned: always kept at PoolSize idle sandboxes
	// (when their image is present). Other languages are warm while used.
	PoolLanguages []string
	// PoolTotal caps the idle sandboxes of all languages together
	// (default 4; never less than PoolSize per pinned language).
	PoolTotal int
	// PoolWindow is how long after its last job a language stays warm
	// (default 10 min); its recent rate decays with a quarter of it.
	PoolWindow time.Duration
	// Runtime is the OCI runtime (e.g. "runsc"); empty for the default.
	Runtime string
	// AgentBinary is the execbox binary to mount as the agent (default: this
	// executable). It must be statically linked to run in any image.
	AgentBinary string
	// WorkDirBytes caps the tmpfs work directory /box (default 64 MiB);
	// TmpBytes caps /tmp (default 16 MiB).
	WorkDirBytes int64
	TmpBytes     int64
	// WorkDirInodes and TmpInodes cap the files in /box (default 16384)
	// and /tmp (default 4096): each costs the sandbox kernel memory.
	WorkDirInodes int64
	TmpInodes     int64
	// CPUs is the CPU quota of each sandbox (default 1).
	CPUs float64
	// MemoryHeadroomBytes is added to the job's memory limit (and the
	// tmpfs sizes) for the container's cgroup: the agent and the runtime
	// overhead (default 64 MiB).
	MemoryHeadroomBytes int64
	// PidsReserve is added to the job's process limit for the container's
	// pids limit: the agent's threads (default 64).
	PidsReserve int64
	// OpenFiles is RLIMIT_NOFILE in the sandbox (default 256).
	OpenFiles int64
	// MaxResultBytes bounds the agent's JSON result (default 8 MiB).
	MaxResultBytes int
	// Max* clamp request limits (the gateway validates them first).
	MaxMemoryKB    int64         // default 2 GiB
	MaxProcesses   int64         // default 256
	MaxWall        time.Duration // default 60 s
	MaxOutputBytes int64         // default 16 MiB
	// Pull pulls every missing image at start; otherwise on first use.
	Pull bool
	// PullTimeout bounds one image pull (default 5 min).
	PullTimeout time.Duration
	// RetryAfter is what a busy executor tells callers (default 1 s).
	RetryAfter time.Duration
}

// DefaultConfig returns the defaults: setDefaults fills zero fields from
// it, and the executor's flags show it. PoolSize, whose zero means no warm
// pool, is 1 here and stays as given in a Config built in code.
func DefaultConfig() Config {
	return Config{
		Slots:               2,
		PoolSize:            1,
		PoolTotal:           4,
		PoolWindow:          10 * time.Minute,
		WorkDirBytes:        64 << 20,
		TmpBytes:            16 << 20,
		WorkDirInodes:       16384,
		TmpInodes:           4096,
		CPUs:                1,
		MemoryHeadroomBytes: 64 << 20,
		PidsReserve:         64,
		OpenFiles:           256,
		MaxResultBytes:      8 << 20,
		MaxMemoryKB:         2 << 20,
		MaxProcesses:        256,
		MaxWall:             time.Minute,
		MaxOutputBytes:      16 << 20,
		PullTimeout:         5 * time.Minute,
		RetryAfter:          time.Second,
	}
}

// RegisterFlags binds the driver's tunables (the executor role's, and app
// all's) to c, with DefaultConfig's defaults.
func (c *Config) RegisterFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	fs.String(&c.Instance, "instance", "EXECBOX_EXECUTOR_INSTANCE", d.Instance, "executor instance name, the label on its sandboxes (default: host name)")
	fs.Int(&c.Slots, "slots", "EXECBOX_SLOTS", d.Slots, "jobs run at once; beyond that the API answers 429 with Retry-After")
	fs.Int(&c.PoolSize, "pool-size", "EXECBOX_POOL_SIZE", d.PoolSize, "warm pool: most started idle sandboxes per language; languages are warm while in use (0: no pool)")
	fs.Strings(&c.PoolLanguages, "pool-languages", "EXECBOX_POOL_LANGUAGES", d.PoolLanguages, "languages always kept warm with --pool-size idle sandboxes (others: while in use)")
	fs.Int(&c.PoolTotal, "pool-total", "EXECBOX_POOL_TOTAL", d.PoolTotal, "most idle warm-pool sandboxes of all languages together (at least --pool-size per pinned language)")
	fs.Duration(&c.PoolWindow, "pool-window", "EXECBOX_POOL_WINDOW", d.PoolWindow, "how long after its last job a language stays warm")
	fs.String(&c.Runtime, "runtime", "EXECBOX_RUNTIME", d.Runtime, "OCI runtime of the sandboxes, e.g. runsc (default: Docker's)")
	fs.Bool(&c.Pull, "pull", "EXECBOX_PULL", d.Pull, "pull missing images at start (otherwise on first use)")
	fs.Duration(&c.PullTimeout, "pull-timeout", "EXECBOX_PULL_TIMEOUT", d.PullTimeout, "longest image pull")
	fs.Shifted(&c.WorkDirBytes, 20, "workdir-mb", "EXECBOX_WORKDIR_MB", d.WorkDirBytes, "size of each sandbox's work directory /box (tmpfs), MiB")
	fs.Shifted(&c.TmpBytes, 20, "tmp-mb", "EXECBOX_TMP_MB", d.TmpBytes, "size of each sandbox's /tmp (tmpfs), MiB")
	fs.Float64(&c.CPUs, "cpus", "EXECBOX_CPUS", d.CPUs, "CPU quota of each sandbox (cores, may be fractional)")
	fs.Shifted(&c.MaxMemoryKB, 10, "max-memory-mb", "EXECBOX_MAX_MEMORY_MB", d.MaxMemoryKB, "largest memory limit a job may have, MiB")
	fs.Duration(&c.MaxWall, "max-wall", "EXECBOX_MAX_WALL", d.MaxWall, "largest wall time limit a job may have")
	fs.String(&c.AgentBinary, "agent-binary", "EXECBOX_AGENT_BINARY", d.AgentBinary, "static execbox binary mounted as the sandbox agent (default: this executable)")
}

// Validate checks the settings a user gives (before defaults).
func (c Config) Validate() error {
	var errs []error
	if c.Slots < 0 {
		errs = append(errs, fmt.Errorf("--slots %d: want 1 or more (0 for the default)", c.Slots))
	}
	if c.PoolSize < 0 || c.PoolSize > 64 {
		errs = append(errs, fmt.Errorf("--pool-size %d: want 0 to 64", c.PoolSize))
	}
	if c.PoolTotal < 0 || c.PoolTotal > 256 {
		errs = append(errs, fmt.Errorf("--pool-total %d: want 1 to 256 (0 for the default)", c.PoolTotal))
	}
	if c.PoolWindow < 0 {
		errs = append(errs, fmt.Errorf("--pool-window %v: must not be negative", c.PoolWindow))
	}
	if c.CPUs < 0 || c.CPUs > 64 {
		errs = append(errs, fmt.Errorf("--cpus %v: want a positive number up to 64", c.CPUs))
	}
	if c.WorkDirBytes < 0 || c.TmpBytes < 0 || c.MaxMemoryKB < 0 {
		errs = append(errs, errors.New("--workdir-mb, --tmp-mb and --max-memory-mb must not be negative"))
	}
	return errors.Join(errs...)
}

func (c *Config) setDefaults() error {
	if c.Catalog == nil {
		return errors.New("sandbox: no catalog")
	}
	if c.Instance == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "executor"
		}
		c.Instance = h
	}
	if c.PoolSize < 0 {
		return fmt.Errorf("sandbox: pool size %d: want 0 or more", c.PoolSize)
	}
	d := DefaultConfig()
	def := func(p *int64, v int64) {
		if *p <= 0 {
			*p = v
		}
	}
	if c.Slots <= 0 {
		c.Slots = d.Slots
	}
	if c.PoolTotal <= 0 {
		c.PoolTotal = d.PoolTotal
	}
	// Pinned languages always fit.
	c.PoolTotal = max(c.PoolTotal, c.PoolSize*len(c.PoolLanguages))
	if c.PoolWindow <= 0 {
		c.PoolWindow = d.PoolWindow
	}
	def(&c.WorkDirBytes, d.WorkDirBytes)
	def(&c.TmpBytes, d.TmpBytes)
	def(&c.WorkDirInodes, d.WorkDirInodes)
	def(&c.TmpInodes, d.TmpInodes)
	def(&c.MemoryHeadroomBytes, d.MemoryHeadroomBytes)
	def(&c.PidsReserve, d.PidsReserve)
	def(&c.OpenFiles, d.OpenFiles)
	def(&c.MaxMemoryKB, d.MaxMemoryKB)
	def(&c.MaxProcesses, d.MaxProcesses)
	def(&c.MaxOutputBytes, d.MaxOutputBytes)
	if c.CPUs <= 0 {
		c.CPUs = d.CPUs
	}
	if c.MaxResultBytes <= 0 {
		c.MaxResultBytes = d.MaxResultBytes
	}
	if c.MaxWall <= 0 {
		c.MaxWall = d.MaxWall
	}
	if c.PullTimeout <= 0 {
		c.PullTimeout = d.PullTimeout
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = d.RetryAfter
	}
	return nil
}

// Driver runs jobs in Docker sandboxes. It implements executor.Executor.
type Driver struct {
	cfg     Config
	docker  client.APIClient
	log     *slog.Logger
	metrics *metrics
	images  *images
	agent   *agentVolume
	slots   chan struct{}

	mu      sync.Mutex
	running map[string]context.CancelCauseFunc
	pools   map[string]*pool

	demand   *demand
	poolKick chan struct{}

	removals sync.WaitGroup
	started  chan struct{}
	// startErr is why the last start attempt failed (Docker unreachable),
	// reported by Ready while Run retries.
	startErr atomic.Pointer[error]
	closed   chan struct{}
	rng      *rand.Rand
	rngMu    sync.Mutex
}

var _ executor.LiveExecutor = (*Driver)(nil)

// New builds a driver; it does not contact Docker until Run.
func New(dc client.APIClient, cfg Config, log *slog.Logger) (*Driver, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	d := &Driver{
		cfg:      cfg,
		docker:   dc,
		log:      log,
		metrics:  newMetrics(),
		slots:    make(chan struct{}, cfg.Slots),
		running:  map[string]context.CancelCauseFunc{},
		pools:    map[string]*pool{},
		demand:   newDemand(cfg.PoolWindow / 4),
		poolKick: make(chan struct{}, 1),
		started:  make(chan struct{}),
		closed:   make(chan struct{}),
		rng:      rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid()))),
	}
	d.images = newImages(dc, log, d.metrics, cfg.PullTimeout)
	d.agent = newAgentVolume(dc, log, cfg.AgentBinary, cfg.Instance, func(vol string) *container.HostConfig {
		return d.hardened(need{memoryKB: 16 << 10, processes: 1}, vol, false)
	})
	return d, nil
}

// Config returns the effective configuration.
func (d *Driver) Config() Config { return d.cfg }

// Run prepares the driver (orphan cleanup, agent volume, pulls, warm
// pools), serves until ctx ends, then removes every sandbox it owns.
func (d *Driver) Run(ctx context.Context) error {
	// Docker may be down or still starting: retry with backoff instead of
	// failing the process, and report not ready meanwhile.
	bo := backoff.New(100*time.Millisecond, 5*time.Second)
	for {
		err := d.prepare(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		d.startErr.Store(&err)
		d.log.Warn("sandbox driver cannot start yet, retrying", "err", err, "retry_in", bo.Peek())
		if bo.Wait(ctx) != nil {
			return nil
		}
	}
	d.startErr.Store(nil)
	if d.cfg.Pull {
		for _, l := range d.cfg.Catalog.All() {
			if err := d.images.ensure(ctx, l.Image); err != nil {
				d.log.Error("pull at start failed", "language", l.ID, "image", l.Image, "err", err)
			}
		}
	}
	poolCtx, stopPools := context.WithCancel(ctx)
	var poolsDone sync.WaitGroup
	if d.cfg.PoolSize > 0 {
		poolsDone.Add(1)
		go func() { defer poolsDone.Done(); d.runPools(poolCtx) }()
	}
	close(d.started)
	d.log.Info("sandbox driver ready", "instance", d.cfg.Instance, "slots", d.cfg.Slots,
		"pool_size", d.cfg.PoolSize, "agent_volume", d.agent.name(), "runtime", d.cfg.Runtime)
	<-ctx.Done()
	close(d.closed)
	stopPools()
	poolsDone.Wait()
	d.removals.Wait()
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return d.removeOrphans(cctx)
}

// prepare removes orphans of this instance and fills the agent volume.
func (d *Driver) prepare(ctx context.Context) error {
	if _, err := d.docker.Ping(ctx); err != nil {
		return fmt.Errorf("docker: %w", err)
	}
	if err := d.removeOrphans(ctx); err != nil {
		return err
	}
	if img := d.images.anyPresent(ctx, d.cfg.Catalog); img != "" {
		if err := d.agent.ensure(ctx, img); err != nil {
			return fmt.Errorf("sandbox: agent volume: %w", err)
		}
	} else {
		d.log.Warn("no sandbox image is present yet; the agent volume will be filled after the first pull")
	}
	return nil
}

// Ready reports whether the driver can run jobs now.
func (d *Driver) Ready(ctx context.Context) error {
	select {
	case <-d.started:
	default:
		if err := d.startErr.Load(); err != nil {
			return fmt.Errorf("sandbox driver not started: %w", *err)
		}
		return errors.New("sandbox driver starting")
	}
	if _, err := d.docker.Ping(ctx); err != nil {
		return fmt.Errorf("docker: %w", err)
	}
	return nil
}

// Capacity reports the slots; while the driver cannot run jobs (not
// started, Docker Engine down) it answers executor.ErrUnavailable.
func (d *Driver) Capacity(ctx context.Context) (executor.Capacity, error) {
	if err := d.Ready(ctx); err != nil {
		return executor.Capacity{}, fmt.Errorf("%w: %w", executor.ErrUnavailable, err)
	}
	return executor.Capacity{Slots: cap(d.slots), Busy: len(d.slots)}, nil
}

// errCanceledByID is the cancel cause Cancel uses.
var errCanceledByID = errors.New("job canceled")

// Cancel kills the running job with that id; unknown ids are ignored.
func (d *Driver) Cancel(_ context.Context, id string) error {
	d.mu.Lock()
	cancel := d.running[id]
	d.mu.Unlock()
	if cancel != nil {
		cancel(errCanceledByID)
	}
	return nil
}

// Execute runs j in a sandbox. User failures are verdicts; an error is
// ErrBusy (every slot taken) or the end of ctx.
func (d *Driver) Execute(ctx context.Context, j job.Job) (job.Result, error) {
	return d.ExecuteLive(ctx, j, live.IO{})
}

// ExecuteLive is Execute with the job's output sent to lio.Output as the
// agent reads it and, for an interactive job, lio.Input fed to it.
func (d *Driver) ExecuteLive(ctx context.Context, j job.Job, lio live.IO) (job.Result, error) {
	select {
	case d.slots <- struct{}{}:
	default:
		d.metrics.rejected.Inc()
		return job.Result{}, &executor.BusyError{RetryAfter: d.cfg.RetryAfter}
	}
	d.metrics.busy.Inc()
	defer func() { <-d.slots; d.metrics.busy.Dec() }()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	d.mu.Lock()
	d.running[j.ID] = cancel
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.running, j.ID)
		d.mu.Unlock()
	}()

	start := time.Now()
	res, err := d.execute(ctx, j, lio)
	if err != nil && ctx.Err() == nil {
		return job.Result{}, fmt.Errorf("execute %s on %s: %w: %w", j.ID, d.cfg.Instance, executor.ErrUnavailable, err)
	}
	res.Executor = d.cfg.Instance
	res.StartedAt, res.FinishedAt = start.UTC(), time.Now().UTC()
	if ctx.Err() != nil {
		if errors.Is(context.Cause(ctx), errCanceledByID) {
			res = job.Result{Status: job.StatusCanceled, Message: "canceled while running",
				Language: res.Language, Version: res.Version, Executor: res.Executor,
				StartedAt: res.StartedAt, FinishedAt: res.FinishedAt}
		} else {
			return job.Result{}, fmt.Errorf("execute %s: %w", j.ID, context.Cause(ctx))
		}
	}
	d.metrics.observe(res)
	return res, nil
}

// execute does the work; every failure of the job becomes a result. An
// error means this executor could not run it (the language is not
// configured here, the sandbox could not be had: image missing, Docker
// Engine down): the platform's failure, retried later or elsewhere.
func (d *Driver) execute(ctx context.Context, j job.Job, lio live.IO) (job.Result, error) {
	lang, ok := d.cfg.Catalog.Lookup(j.Request.Language, j.Request.Version)
	if !ok {
		return job.Result{}, fmt.Errorf("language %q version %q is not configured on this executor", j.Request.Language, j.Request.Version)
	}
	res := job.Result{Language: lang.ID, Version: lang.Version}
	select {
	case <-d.started:
	case <-ctx.Done():
		return res, nil
	}
	if d.cfg.PoolSize > 0 {
		d.demand.observe(lang.ID, time.Now())
		d.kickPools()
	}
	spec, need, err := d.buildSpec(lang, j.Request)
	if err != nil {
		return withLang(internalError(err.Error()), lang), nil
	}
	sb, pooled, err := d.acquire(ctx, lang, need, j.ID)
	if err != nil {
		if ctx.Err() != nil {
			return res, nil
		}
		d.log.Error("sandbox unavailable", "job", j.ID, "language", lang.ID, "err", err)
		return res, fmt.Errorf("sandbox unavailable: %w", err)
	}
	defer d.discard(sb)
	d.log.Debug("sandbox acquired", "job", j.ID, "language", lang.ID, "container", short(sb.id), "pooled", pooled)
	var watch *cpuWatch
	total, runs := hostCPUBudget(spec)
	if gvisor(d.cfg.Runtime) {
		watch = d.watchHostCPU(ctx, sb, total, func() { d.kill(sb) })
	}
	ar, err := sb.run(ctx, spec, d.deadline(spec), lio)
	if watch != nil && watch.finish() {
		d.log.Info("sandbox over its host CPU budget", "job", j.ID, "language", lang.ID, "container", short(sb.id))
		return withLang(watch.result(time.Duration(watch.used.Load()), total), lang), nil
	}
	if err != nil {
		if ctx.Err() != nil {
			d.kill(sb)
			return res, nil
		}
		if errors.Is(err, errNoResult) {
			// The agent died: the cgroup's OOM killer may have picked it.
			// Under gVisor it takes the whole sentry, and Docker does not
			// always see the OOM event (the sentry, not the agent, is the
			// container's process): a SIGKILL nobody here sent (exit 137)
			// is the memory cgroup's too.
			oom, exit, desc := d.exitState(ctx, sb)
			if oom || (gvisor(d.cfg.Runtime) && exit == 128+int(syscall.SIGKILL)) {
				return withLang(job.Result{Status: job.StatusMemoryLimit,
					Message: "the sandbox ran out of memory (killed by the kernel's OOM killer)"}, lang), nil
			} else {
				err = fmt.Errorf("%w (%s)", err, desc)
			}
		}
		d.kill(sb)
		d.log.Error("sandbox failed", "job", j.ID, "language", lang.ID, "container", short(sb.id), "err", err)
		return withLang(internalError(err.Error()), lang), nil
	}
	res = d.toResult(ctx, sb, j.Request, ar)
	if watch != nil {
		res = watch.check(res, runs)
	}
	return withLang(res, lang), nil
}

func withLang(r job.Result, l catalog.Language) job.Result {
	r.Language, r.Version = l.ID, l.Version
	return r
}

func internalError(msg string) job.Result {
	return job.Result{Status: job.StatusInternalError, Message: msg}
}

// deadline bounds a whole job: every step's wall limit plus slack.
func (d *Driver) deadline(spec agent.Spec) time.Duration {
	total := 10 * time.Second
	if spec.Compile != nil {
		total += time.Duration(spec.Compile.Limits.WallTimeMs)*time.Millisecond + time.Second
	}
	runs := max(len(spec.Tests), 1)
	total += time.Duration(runs) * (time.Duration(spec.Run.Limits.WallTimeMs)*time.Millisecond + time.Second)
	return total
}

// uid picks the program's uid for one job: unique per sandbox in practice,
// so RLIMIT_NPROC (counted per uid across the host) counts only this
// sandbox's processes. Below 65536 so user-namespace remapping works.
func (d *Driver) uid() int {
	d.rngMu.Lock()
	defer d.rngMu.Unlock()
	return 10000 + d.rng.IntN(50000)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
