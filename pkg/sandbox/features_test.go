package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/sandbox"
	"github.com/execbox/app/pkg/testenv"
)

func ptr(s string) *string { return &s }

// withLanguages extends the test catalog.
func withLanguages(t *testing.T, extra ...catalog.Language) func(*sandbox.Config) {
	return func(c *sandbox.Config) {
		langs := append(c.Catalog.All(), extra...)
		cat, err := catalog.New(langs)
		if err != nil {
			t.Fatal(err)
		}
		c.Catalog = cat
	}
}

func TestTestsCompileOnce(t *testing.T) {
	t.Parallel()
	counted := catalog.Language{
		ID: "counted", Name: "Counted", Version: "1", Image: "execbox/runtime-shell:bookworm", SourceFile: "main.sh",
		// The "compiler" appends a line to a file; every run prints how
		// many lines it has, then its stdin.
		Compile: []string{"sh", "-c", "echo compiled >> count"},
		Run:     []string{"sh", "-c", "wc -l < count; cat"},
		Limits:  job.Limits{CPUTimeMs: 1000, WallTimeMs: 5000, MemoryKB: 65536},
	}
	b := setup(t, withLanguages(t, counted))
	t.Run("counter", func(t *testing.T) {
		t.Parallel()
		res := b.run(t, job.Request{Language: "counted", Files: src("main.sh", "unused"), Tests: []job.TestCase{
			{Stdin: "a\n", ExpectedOutput: ptr("1\na\n")},
			{Stdin: "b\n", ExpectedOutput: ptr("1\nb")},
			{Stdin: "c\n", ExpectedOutput: ptr("1\nc  \n\n\n")},
		}})
		if res.Status != job.StatusAccepted || res.Compile == nil || len(res.Tests) != 3 {
			t.Fatalf("result: %s (%d tests)", dump(res), len(res.Tests))
		}
		for i, tc := range res.Tests {
			if !strings.HasPrefix(tc.Stdout.Text, "1\n") {
				t.Errorf("test %d: the compile step ran %q times, want once", i, tc.Stdout.Text)
			}
		}
	})
	t.Run("c", func(t *testing.T) {
		t.Parallel()
		code := "#include <stdio.h>\nint main(void){long a,b; if(scanf(\"%ld %ld\",&a,&b)!=2) return 2; printf(\"%ld\\n\", a+b); return 0;}\n"
		res := b.run(t, job.Request{Language: "c", Files: src("main.c", code), Tests: []job.TestCase{
			{Stdin: "1 2", ExpectedOutput: ptr("3")},
			{Stdin: "2 2", ExpectedOutput: ptr("5")},
			{Stdin: "oops"},
			{Stdin: "40 2", ExpectedOutput: ptr("42\n")},
		}})
		want := []job.Status{job.StatusAccepted, job.StatusWrongAnswer, job.StatusRuntimeError, job.StatusAccepted}
		if res.Status != job.StatusWrongAnswer || res.Compile == nil || len(res.Tests) != len(want) {
			t.Fatalf("result: %s (%d tests)", dump(res), len(res.Tests))
		}
		for i, w := range want {
			if res.Tests[i].Verdict != w {
				t.Errorf("test %d: %s, want %s", i, res.Tests[i].Verdict, w)
			}
		}
		if res.Tests[2].ExitCode != 2 {
			t.Errorf("test 2 exit code %d, want 2", res.Tests[2].ExitCode)
		}
	})
}

// jobContainer waits until the job's sandbox is running and returns its id.
func jobContainer(t *testing.T, b *bundle, id string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		list, err := b.docker.ContainerList(context.Background(), container.ListOptions{
			Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelJob+"="+id), filters.Arg("status", "running")),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 {
			return list[0].ID
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no running sandbox for job %s", id)
	return ""
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	sleeper := job.Request{Language: "bash", Files: src("main.sh", "echo started; sleep 600"), Limits: job.Limits{WallTimeMs: 60000}}
	for _, how := range []string{"Cancel", "context"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			ctx, cancelCtx := context.WithCancel(context.Background())
			defer cancelCtx()
			id := job.NewID(time.Now())
			type out struct {
				res job.Result
				err error
				at  time.Time
			}
			done := make(chan out, 1)
			go func() {
				res, err := b.driver.Execute(ctx, job.Job{ID: id, Request: sleeper})
				done <- out{res, err, time.Now()}
			}()
			cid := jobContainer(t, b, id)
			start := time.Now()
			if how == "Cancel" {
				if err := b.driver.Cancel(context.Background(), id); err != nil {
					t.Fatal(err)
				}
			} else {
				cancelCtx()
			}
			var o out
			select {
			case o = <-done:
			case <-time.After(30 * time.Second):
				// A hang detector, not a speed check: the program sleeps
				// 600 s under a 60 s wall limit, so returning at all
				// before the wall limit shows the cancel took effect.
				t.Fatal("Execute did not return after cancel")
			}
			t.Logf("cancel returned after %s", o.at.Sub(start))
			if how == "Cancel" {
				if o.err != nil || o.res.Status != job.StatusCanceled {
					t.Errorf("after Cancel: %v, %s", o.err, dump(o.res))
				}
			} else if !errors.Is(o.err, context.Canceled) {
				t.Errorf("after context cancel: err %v, want context.Canceled", o.err)
			}
			if _, err := b.docker.ContainerInspect(context.Background(), cid); !cerrdefs.IsNotFound(err) {
				t.Errorf("sandbox %s still exists after cancel (inspect: %v)", cid[:12], err)
			}
		})
	}
}

// A missing image is the platform's failure, not the job's: the driver
// answers executor.ErrUnavailable naming the image, so the worker runs the
// job later (once the image is built) or on another executor.
func TestMissingImageIsUnavailable(t *testing.T) {
	t.Parallel()
	ghost := catalog.Language{ID: "ghost", Name: "Ghost", Version: "1", Image: "execbox-missing/ghost:1", SourceFile: "main.sh",
		Run: []string{"sh", "main.sh"}, Limits: job.Limits{CPUTimeMs: 1000, WallTimeMs: 1000, MemoryKB: 65536}}
	b := setup(t, withLanguages(t, ghost))
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := b.driver.Execute(ctx, job.Job{ID: job.NewID(time.Now()), Request: job.Request{Language: "ghost", Files: src("main.sh", "echo hi")}, Attempt: 1})
	if !errors.Is(err, executor.ErrUnavailable) || !strings.Contains(err.Error(), "execbox-missing/ghost:1") ||
		!strings.Contains(err.Error(), "could not be pulled") {
		t.Fatalf("Execute error %v, want executor.ErrUnavailable naming the image that could not be pulled", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("a failed pull took %s", took)
	}
}

func TestBusy(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *sandbox.Config) { c.Slots = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	id := job.NewID(time.Now())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = b.driver.Execute(ctx, job.Job{ID: id, Request: job.Request{Language: "bash", Files: src("main.sh", "sleep 600"), Limits: job.Limits{WallTimeMs: 60000}}})
	}()
	jobContainer(t, b, id)
	if c, _ := b.driver.Capacity(ctx); c.Slots != 1 || c.Busy != 1 {
		t.Errorf("capacity %+v, want 1 of 1 busy", c)
	}
	_, err := b.driver.Execute(ctx, job.Job{ID: job.NewID(time.Now()), Request: job.Request{Language: "bash", Files: src("main.sh", "true")}})
	var busy *executor.BusyError
	if !errors.As(err, &busy) || !errors.Is(err, executor.ErrBusy) || busy.RetryAfter <= 0 {
		t.Errorf("second job: %v, want BusyError", err)
	}
	cancel()
	<-done
}

func TestWarmPool(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b := setup(t, func(c *sandbox.Config) { c.PoolSize = 1; c.PoolLanguages = []string{"python"} })
	b.driver.Register(reg)
	waitPool := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			for _, l := range b.driver.Languages(context.Background()) {
				if l.ID == "python" && l.PoolIdle == 1 {
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("warm pool never filled")
	}
	for i := range 3 {
		waitPool()
		res := b.run(t, job.Request{Language: "python", Files: src("main.py", "print(input())"), Stdin: "warm"})
		if res.Status != job.StatusAccepted || res.Run.Stdout.Text != "warm\n" {
			t.Fatalf("job %d: %s", i, dump(res))
		}
	}
	if hits := testutil.ToFloat64(must(t, reg, "execbox_executor_pool_takes_total", "hit")); hits != 3 {
		t.Errorf("pool hits %v, want 3", hits)
	}
	// A job asking for more than a pooled sandbox holds gets a fresh one.
	res := b.run(t, job.Request{Language: "python", Files: src("main.py", "print(1)"), Limits: job.Limits{MemoryKB: 512 << 10}})
	if res.Status != job.StatusAccepted {
		t.Fatalf("big job: %s", dump(res))
	}
}

// must finds one counter series by its last label value.
func must(t *testing.T, reg *prometheus.Registry, name, value string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == value {
					c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
					c.Add(m.GetCounter().GetValue())
					return c
				}
			}
		}
	}
	t.Fatalf("no metric %s{..=%q}", name, value)
	return nil
}

// A container left by a crashed executor with the same instance name is
// removed when the driver starts.
func TestOrphansRemovedAtStart(t *testing.T) {
	t.Parallel()
	dc := testenv.Docker(t)
	var inst string
	b := setup(t, func(c *sandbox.Config) {
		inst = c.Instance
		cr, err := dc.ContainerCreate(context.Background(), &container.Config{
			Image: "execbox/runtime-shell:bookworm", Cmd: []string{"true"},
			Labels: map[string]string{sandbox.LabelExecutor: inst},
		}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = dc.ContainerRemove(context.Background(), cr.ID, container.RemoveOptions{Force: true})
		})
	})
	if left := containers(t, b.docker, inst); len(left) != 0 {
		t.Errorf("orphans left after start: %v", left)
	}
}

// Every sandbox carries the full hardening, checked on a pooled container
// through the Docker API.
func TestHardening(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *sandbox.Config) { c.PoolSize = 1; c.PoolLanguages = []string{"bash"} })
	var id string
	for deadline := time.Now().Add(30 * time.Second); id == ""; {
		list, err := b.docker.ContainerList(context.Background(), container.ListOptions{
			Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelExecutor+"="+b.instance), filters.Arg("status", "running")),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 0 {
			id = list[0].ID
		} else if time.Now().After(deadline) {
			t.Fatal("no pooled sandbox")
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	ins, err := b.docker.ContainerInspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	hc := ins.HostConfig
	checks := []struct {
		name string
		ok   bool
	}{
		{"network none", string(hc.NetworkMode) == "none"},
		{"read-only root", hc.ReadonlyRootfs},
		{"not privileged", !hc.Privileged},
		{"ipc none", string(hc.IpcMode) == "none"},
		{"cap drop ALL", len(hc.CapDrop) == 1 && hc.CapDrop[0] == "ALL"},
		{"cap add only SETUID SETGID KILL", capSet(hc.CapAdd) == "KILL,SETGID,SETUID"},
		{"no-new-privileges and execbox's seccomp profile", slices.Equal(hc.SecurityOpt, sandbox.SecurityOpt(""))},
		{"pids limit", hc.PidsLimit != nil && *hc.PidsLimit > 0 && *hc.PidsLimit <= 256},
		{"memory limit, swap equal", hc.Memory > 0 && hc.MemorySwap == hc.Memory},
		{"cpu quota", hc.NanoCPUs > 0},
		{"log driver none", hc.LogConfig.Type == "none"},
		{"no binds", len(hc.Binds) == 0},
		{"only the agent volume, read-only", len(hc.Mounts) == 1 && hc.Mounts[0].ReadOnly && hc.Mounts[0].Target == sandbox.AgentDir},
		{"tmpfs /box capped", strings.Contains(hc.Tmpfs["/box"], "size=") && strings.Contains(hc.Tmpfs["/box"], "nr_inodes=")},
		{"tmpfs /tmp capped", strings.Contains(hc.Tmpfs["/tmp"], "size=") && strings.Contains(hc.Tmpfs["/tmp"], "nr_inodes=")},
		{"ulimits nofile, fsize, core=0", len(hc.Ulimits) == 3 && hc.Ulimits[2].Name == "core" && hc.Ulimits[2].Hard == 0},
		{"labelled", ins.Config.Labels[sandbox.LabelExecutor] == b.instance},
	}
	for _, c := range checks {
		if !c.ok {
			hc.SecurityOpt = nil // the profile is long; its presence is one check
			t.Errorf("hardening: %s: not so (%+v)", c.name, hc)
		}
	}
}

// capSet normalises capability names ("CAP_KILL" and "KILL") and sorts them.
func capSet(caps []string) string {
	out := make([]string, len(caps))
	for i, c := range caps {
		out[i] = strings.TrimPrefix(strings.ToUpper(c), "CAP_")
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// TestMergeStderr: with MergeStderr the program's stdout and stderr are one
// pipe, so their interleaving is exactly the program's own; without it they
// stay apart.
func TestMergeStderr(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	prog := "for i in 1 2 3 4 5 6 7 8; do echo out$i; echo err$i >&2; done"
	var want strings.Builder
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&want, "out%d\nerr%d\n", i, i)
	}
	for _, tc := range []struct {
		name             string
		merge            bool
		wantOut, wantErr string
	}{
		{"merged", true, want.String(), ""},
		{"apart", false, "out1\nout2\nout3\nout4\nout5\nout6\nout7\nout8\n", "err1\nerr2\nerr3\nerr4\nerr5\nerr6\nerr7\nerr8\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := b.run(t, job.Request{Language: "bash", Files: src("main.sh", prog), MergeStderr: tc.merge})
			if res.Status != job.StatusAccepted || res.Run == nil {
				t.Fatalf("result: %s", dump(res))
			}
			if res.Run.Stdout.Text != tc.wantOut {
				t.Errorf("stdout %q, want %q", res.Run.Stdout.Text, tc.wantOut)
			}
			if res.Run.Stderr.Text != tc.wantErr {
				t.Errorf("stderr %q, want %q", res.Run.Stderr.Text, tc.wantErr)
			}
		})
	}
}
