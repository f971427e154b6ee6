// Package bench holds the project's benchmarks. Each measures against a
// baseline taken in the same run and reports ratios: the machines are
// noisy, ratios travel.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/sandbox"
)

// ExecutorOptions configures the executor benchmark.
type ExecutorOptions struct {
	Catalog    *catalog.Catalog
	Language   string // default python
	Iterations int    // per mode, default 30
	// AgentBinary is the static execbox binary for the sandboxes (default:
	// this executable).
	AgentBinary string
	Log         *slog.Logger
}

// Sample is the latency summary of one mode.
type Sample struct {
	Name            string
	Median, P95     time.Duration
	Ratio, RatioP95 float64 // against docker run
}

// Executor measures a hello world through the sandbox driver with the warm
// pool on and off, and plain "docker run --rm --network none" of the same
// image and program, then prints median and p95 latency and ratios.
func Executor(ctx context.Context, dc client.APIClient, opt ExecutorOptions, out io.Writer) ([]Sample, error) {
	if opt.Language == "" {
		opt.Language = "python"
	}
	if opt.Iterations <= 0 {
		opt.Iterations = 30
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	lang, ok := opt.Catalog.Lookup(opt.Language, "")
	if !ok {
		return nil, fmt.Errorf("bench: language %q is not in the catalog", opt.Language)
	}
	prog, argv, err := hello(lang)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "executor benchmark: %s (%s), %d iterations per mode\n", lang.ID, lang.Image, opt.Iterations)

	baseline, err := dockerRun(ctx, dc, lang.Image, "", argv, opt.Iterations)
	if err != nil {
		return nil, fmt.Errorf("bench: docker run baseline: %w", err)
	}
	warm, prog1, err := driverRun(ctx, dc, opt, lang, prog, 1, "")
	if err != nil {
		return nil, err
	}
	cold, _, err := driverRun(ctx, dc, opt, lang, prog, 0, "")
	if err != nil {
		return nil, err
	}
	base := summarize("docker run --rm", baseline, 0, 0)
	samples := []Sample{
		summarize("execbox, warm pool", warm, base.Median, base.P95),
		summarize("execbox, no pool", cold, base.Median, base.P95),
		base,
	}
	samples[2].Ratio, samples[2].RatioP95 = 1, 1
	// What gVisor costs per run, when the engine has it: the same modes
	// under runsc, as ratios to the same (runc) docker run baseline.
	if hasRuntime(ctx, dc, "runsc") {
		gbase, err := dockerRun(ctx, dc, lang.Image, "runsc", argv, opt.Iterations)
		if err != nil {
			return nil, fmt.Errorf("bench: docker run --runtime runsc: %w", err)
		}
		gwarm, _, err := driverRun(ctx, dc, opt, lang, prog, 1, "runsc")
		if err != nil {
			return nil, err
		}
		gcold, _, err := driverRun(ctx, dc, opt, lang, prog, 0, "runsc")
		if err != nil {
			return nil, err
		}
		samples = append(samples,
			summarize("runsc: execbox, warm pool", gwarm, base.Median, base.P95),
			summarize("runsc: execbox, no pool", gcold, base.Median, base.P95),
			summarize("runsc: docker run --rm", gbase, base.Median, base.P95))
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tmedian\tp95\tmedian ratio\tp95 ratio\t")
	for _, s := range samples {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2fx\t%.2fx\t\n", s.Name, ms(s.Median), ms(s.P95), s.Ratio, s.RatioP95)
	}
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	slices.Sort(prog1)
	fmt.Fprintf(out, "warm pool: median added latency %s over the program's own wall time (%s, measured by the agent)\n",
		ms(samples[0].Median-prog1[len(prog1)/2]), ms(prog1[len(prog1)/2]))
	verdict := "met"
	if samples[0].Ratio > 0.2 {
		verdict = "NOT met"
	}
	fmt.Fprintf(out, "goal warm pool <= 0.20x docker run (median): %s\n", verdict)
	return samples, nil
}

// hasRuntime reports whether the engine has the OCI runtime name.
func hasRuntime(ctx context.Context, dc client.APIClient, name string) bool {
	info, err := dc.Info(ctx)
	if err != nil {
		return false
	}
	_, ok := info.Runtimes[name]
	return ok
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// hello returns a hello-world program for lang and the argv that runs the
// same program under docker run.
func hello(lang catalog.Language) (job.File, []string, error) {
	switch lang.ID {
	case "python":
		return job.File{Name: lang.SourceFile, Content: "print(1)\n"}, []string{"python3", "-c", "print(1)"}, nil
	case "bash":
		return job.File{Name: lang.SourceFile, Content: "echo 1\n"}, []string{"bash", "-c", "echo 1"}, nil
	case "javascript":
		return job.File{Name: lang.SourceFile, Content: "console.log(1)\n"}, []string{"node", "-e", "console.log(1)"}, nil
	}
	return job.File{}, nil, fmt.Errorf("bench: no hello world for %q (use python, bash or javascript)", lang.ID)
}

func summarize(name string, d []time.Duration, baseMedian, baseP95 time.Duration) Sample {
	slices.Sort(d)
	s := Sample{Name: name, Median: d[len(d)/2], P95: d[min(len(d)-1, (len(d)*95+99)/100-1)]}
	if baseMedian > 0 {
		s.Ratio = float64(s.Median) / float64(baseMedian)
		s.RatioP95 = float64(s.P95) / float64(baseP95)
	}
	return s
}

// dockerRun times "docker run --rm --network none IMAGE argv..." with the
// docker CLI, or the same calls through the API when there is no CLI.
func dockerRun(ctx context.Context, dc client.APIClient, image, runtime string, argv []string, n int) ([]time.Duration, error) {
	cli, cliErr := exec.LookPath("docker")
	var out []time.Duration
	for range n {
		start := time.Now()
		if cliErr == nil {
			args := []string{"run", "--rm", "--network", "none"}
			if runtime != "" {
				args = append(args, "--runtime", runtime)
			}
			args = append(append(args, image), argv...)
			if b, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("%v: %s", err, b)
			}
		} else if err := apiRun(ctx, dc, image, runtime, argv); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

func apiRun(ctx context.Context, dc client.APIClient, image, runtime string, argv []string) error {
	cr, err := dc.ContainerCreate(ctx, &container.Config{Image: image, Cmd: argv}, &container.HostConfig{NetworkMode: "none", Runtime: runtime}, nil, nil, "")
	if err != nil {
		return err
	}
	defer dc.ContainerRemove(context.WithoutCancel(ctx), cr.ID, container.RemoveOptions{Force: true})
	waitC, errC := dc.ContainerWait(ctx, cr.ID, container.WaitConditionNextExit)
	if err := dc.ContainerStart(ctx, cr.ID, container.StartOptions{}); err != nil {
		return err
	}
	select {
	case <-waitC:
		return nil
	case err := <-errC:
		return err
	}
}

// timedRun is one job timed by timedRuns.
type timedRun struct {
	took time.Duration
	res  job.Result
}

// timedRuns runs prog iterations+1 times through a fresh driver (cfg plus a
// new instance name, one slot, lang pinned with the given pool size); with a
// pool it waits for the refill between jobs (the time a warm job takes, not
// the pool's refill rate). The first job warms caches (image layers, the
// agent binary) and is left out; every job must be accepted.
func timedRuns(ctx context.Context, dc client.APIClient, cfg sandbox.Config, log *slog.Logger, lang catalog.Language, prog job.File, pool, iterations int) ([]timedRun, error) {
	cfg.Instance = fmt.Sprintf("bench-%d", time.Now().UnixNano())
	cfg.Slots, cfg.PoolSize, cfg.PoolLanguages = 1, pool, []string{lang.ID}
	d, err := sandbox.New(dc, cfg, log)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	defer func() { cancel(); <-done }()
	if err := waitFor(ctx, func() bool { return d.Ready(ctx) == nil }); err != nil {
		return nil, fmt.Errorf("bench: driver not ready: %w", err)
	}
	poolFull := func() bool {
		for _, l := range d.Languages(ctx) {
			if l.ID == lang.ID {
				return l.PoolIdle >= pool
			}
		}
		return false
	}
	var runs []timedRun
	for i := range iterations + 1 {
		if err := waitFor(ctx, poolFull); err != nil {
			return nil, fmt.Errorf("bench: warm pool never filled: %w", err)
		}
		start := time.Now()
		res, err := d.Execute(ctx, job.Job{ID: job.NewID(time.Now()), Request: job.Request{Language: lang.ID, Files: []job.File{prog}}})
		took := time.Since(start)
		if err != nil {
			return nil, err
		}
		if res.Status != job.StatusAccepted {
			return nil, fmt.Errorf("bench: hello world ended %s: %s", res.Status, res.Message)
		}
		if i > 0 {
			runs = append(runs, timedRun{took: took, res: res})
		}
	}
	return runs, nil
}

// driverRun times opt.Iterations jobs (timedRuns) and returns their
// latencies and the program's own wall time.
func driverRun(ctx context.Context, dc client.APIClient, opt ExecutorOptions, lang catalog.Language, prog job.File, pool int, runtime string) (lat, progWall []time.Duration, err error) {
	runs, err := timedRuns(ctx, dc, sandbox.Config{Catalog: opt.Catalog, AgentBinary: opt.AgentBinary, Runtime: runtime}, opt.Log, lang, prog, pool, opt.Iterations)
	for _, r := range runs {
		lat = append(lat, r.took)
		progWall = append(progWall, time.Duration(r.res.Run.WallTimeMs*float64(time.Millisecond)))
	}
	return lat, progWall, err
}

func waitFor(ctx context.Context, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return errors.New("timed out")
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
