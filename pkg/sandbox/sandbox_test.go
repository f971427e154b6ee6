package sandbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/dockerguard"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/sandbox"
	"github.com/execbox/app/pkg/testenv"
)

type bundle struct {
	driver   *sandbox.Driver
	docker   *client.Client
	instance string
	catalog  *catalog.Catalog
}

// setup starts a driver against the real Docker Engine with the local test
// catalog; at cleanup it stops the driver and checks no sandbox is left.
func setup(t *testing.T, mutate func(*sandbox.Config)) *bundle {
	t.Helper()
	dc := testenv.Docker(t)
	cat, err := catalog.Load(testenv.Runtimes(t))
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg := sandbox.Config{
		Catalog:     cat,
		Instance:    "test-" + hex.EncodeToString(b[:]),
		Slots:       8,
		AgentBinary: testenv.BuildBinary(t),
		PullTimeout: 30 * time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// The driver talks to Docker only through the API guard, as in
	// compose: every sandbox test also proves the guard lets the real
	// sandbox shape (and only this executor's containers) through.
	d, err := sandbox.New(startGuard(t, cfg, log), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("driver Run: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("driver did not stop within 60 s")
		}
		left := containers(t, dc, cfg.Instance)
		if len(left) > 0 {
			t.Errorf("%d sandbox containers left behind: %v", len(left), left)
		}
	})
	waitReady(t, d)
	return &bundle{driver: d, docker: dc, instance: cfg.Instance, catalog: cat}
}

// startGuard serves a Docker API guard (pkg/dockerguard) for cfg's instance,
// runtime and catalog on a loopback port and returns a client of it. The
// guard stops after the driver (cleanups run last-registered first).
func startGuard(t *testing.T, cfg sandbox.Config, log *slog.Logger) *client.Client {
	t.Helper()
	pol := dockerguard.Policy{Instance: cfg.Instance, Runtime: cfg.Runtime}
	for _, l := range cfg.Catalog.All() {
		pol.Images = append(pol.Images, l.Image)
	}
	g, err := dockerguard.New(pol, os.Getenv("DOCKER_HOST"), log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dockerguard.Serve(ctx, ln, g, log) }()
	gc, err := client.NewClientWithOpts(client.WithHost("tcp://"+ln.Addr().String()), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gc.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("docker guard: %v", err)
		}
		g.Close()
	})
	return gc
}

func waitReady(t *testing.T, d *sandbox.Driver) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		if err := d.Ready(ctx); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("driver not ready: %v", d.Ready(context.Background()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func containers(t *testing.T, dc *client.Client, instance string) []string {
	t.Helper()
	list, err := dc.ContainerList(context.Background(), container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelExecutor+"="+instance)),
	})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID[:12]+" "+c.State)
	}
	return ids
}

func (b *bundle) run(t *testing.T, req job.Request) job.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := b.driver.Execute(ctx, job.Job{ID: job.NewID(time.Now()), Request: req, Attempt: 1})
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return res
}

func src(name, content string) []job.File { return []job.File{{Name: name, Content: content}} }

func TestHelloStdinArgs(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	cases := []struct {
		lang, file, code string
	}{
		{"bash", "main.sh", `read -r name; echo "hello $name $1 $2"`},
		{"python", "main.py", "import sys\nname = input()\nprint('hello', name, *sys.argv[1:])\n"},
		{"c", "main.c", "#include <stdio.h>\nint main(int c, char **v){char n[64]; scanf(\"%63s\", n); printf(\"hello %s %s %s\\n\", n, v[1], v[2]); return 0;}\n"},
		{"cpp", "main.cpp", "#include <iostream>\n#include <string>\nint main(int c, char **v){std::string n; std::cin >> n; std::cout << \"hello \" << n << ' ' << v[1] << ' ' << v[2] << std::endl;}\n"},
	}
	for _, tc := range cases {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			res := b.run(t, job.Request{Language: tc.lang, Files: src(tc.file, tc.code), Stdin: "world\n", Args: []string{"a", "b c"}})
			if res.Status != job.StatusAccepted {
				t.Fatalf("status %s: %s; result %+v", res.Status, res.Message, dump(res))
			}
			if got, want := res.Run.Stdout.Text, "hello world a b c\n"; got != want {
				t.Errorf("stdout %q, want %q", got, want)
			}
			if res.Run.WallTimeMs <= 0 || res.Run.MemoryKB <= 0 {
				t.Errorf("run not measured: wall %v ms, memory %v KB", res.Run.WallTimeMs, res.Run.MemoryKB)
			}
			if _, compiled := map[string]bool{"c": true, "cpp": true}[tc.lang]; compiled != (res.Compile != nil) {
				t.Errorf("compile step present = %v for %s", res.Compile != nil, tc.lang)
			}
		})
	}
}

func dump(r job.Result) string {
	var sb strings.Builder
	sb.WriteString(string(r.Status) + " " + r.Message)
	for name, s := range map[string]*job.Step{"compile": r.Compile, "run": r.Run} {
		if s != nil {
			sb.WriteString("\n" + name + ": verdict=" + string(s.Verdict) + " exit=" + itoa(s.ExitCode) + " signal=" + s.Signal +
				" limit=" + s.LimitExceeded + " msg=" + s.Message + "\n stdout=" + trunc(s.Stdout.Text) + "\n stderr=" + trunc(s.Stderr.Text))
		}
	}
	return sb.String()
}

func trunc(s string) string {
	if len(s) > 500 {
		return s[:500] + "..."
	}
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestMain plants a fake secret in the executor's environment: the
// env_secret case proves it never reaches a sandbox.
func TestMain(m *testing.M) {
	os.Setenv("EXECBOX_FAKE_SECRET", "hunter2-do-not-leak")
	os.Exit(m.Run())
}
