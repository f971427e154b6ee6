package runtimes_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/runtimes"
	"github.com/execbox/app/pkg/sandbox"
	"github.com/execbox/app/pkg/testenv"
)

// The language matrix: every language of the embedded catalog, on its real
// image, through the real sandbox driver. Each language has a probe program
// in testdata/languages/<id>/main.* that prints "hello, world", echoes the
// first stdin line, prints each argument and exits with 3 on "fail" and a
// runtime error on "crash"; it runs as three test cases of one submission.
// Compiled languages also compile testdata/languages/<id>/bad.*, which must
// fail with the compiler's message. A missing probe, image or version is a
// failure, never a skip.

// probeArgs are the program arguments of every probe run.
var probeArgs = []string{"one", "two"}

// limits says what a language's probe cannot show (none for most).
type limits struct {
	noStdin, noArgs, noExit, noCrash bool
}

var probeLimits = map[string]limits{
	// cat prints the text, nothing else.
	"plaintext": {noStdin: true, noArgs: true, noExit: true, noCrash: true},
	// SQL sees stdin (.import) but neither argv nor a chosen exit code.
	"sqlite": {noArgs: true, noExit: true},
}

// compileWant is what the compiler's message must contain for bad.*
// (default: the undefined name it uses).
var compileWant = map[string]string{
	"cobol":  "UNDEFINED-NAME",
	"ada":    "Undefined_Name",
	"prolog": "syntax error",
}

// matrixParallel is how many languages run at once, over both runtimes
// together (the machines have two cores; compilers are the bottleneck).
const matrixParallel = 3

// matrixRuntimes are the OCI runtimes the matrix runs under: Docker's
// default (runc) and gVisor (scripts/testenv.sh registers runsc). A missing
// runtime fails the test; it is never skipped.
var matrixRuntimes = []struct{ name, runtime string }{{"runc", ""}, {"runsc", "runsc"}}

func TestLanguageMatrix(t *testing.T) {
	cat := catalog.Default()
	if n := len(cat.All()); n < 45 {
		t.Errorf("embedded catalog has %d languages, want at least 45", n)
	}
	versions := imageVersions(t, cat)
	exe := buildExecutableProbe(t)
	agentBin := testenv.BuildBinary(t)
	sem := make(chan struct{}, matrixParallel)
	for _, rt := range matrixRuntimes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			d := startDriver(t, cat, agentBin, rt.runtime)
			t.Run("languages", func(t *testing.T) {
				for _, l := range cat.All() {
					t.Run(l.ID, func(t *testing.T) {
						t.Parallel()
						sem <- struct{}{}
						defer func() { <-sem }()
						if got, ok := versions[l.ID]; !ok {
							t.Errorf("image %s has no label %s%s: build it with `app images build %s`", l.Image, runtimes.LabelVersionPrefix, l.ID, l.ID)
						} else if got != l.Version {
							t.Errorf("catalog version %q, image %s says %q: regenerate pkg/catalog/versions.json with EXECBOX_UPDATE_VERSIONS=1 go test ./pkg/runtimes -run TestLanguageMatrix", l.Version, l.Image, got)
						}
						start := time.Now()
						runProbe(t, d, l, exe)
						t.Logf("%s/%s: probes done in %s", rt.name, l.ID, time.Since(start).Round(time.Millisecond))
					})
				}
			})
		})
	}
}

// startDriver runs a sandbox driver under runtime ("" for Docker's
// default) until the test ends.
func startDriver(t *testing.T, cat *catalog.Catalog, agentBin, runtime string) *sandbox.Driver {
	t.Helper()
	dc := testenv.Docker(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	d, err := sandbox.New(dc, sandbox.Config{
		Catalog:     cat,
		Instance:    "matrix-" + hex.EncodeToString(b[:]),
		Slots:       2 * matrixParallel,
		AgentBinary: agentBin,
		Runtime:     runtime,
		PullTimeout: 10 * time.Second,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("driver Run: %v", err)
		}
	})
	waitReady(t, d)
	return d
}

// imageVersions reads the version labels of every catalog image; with
// EXECBOX_UPDATE_VERSIONS=1 it rewrites pkg/catalog/versions.json from them.
func imageVersions(t *testing.T, cat *catalog.Catalog) map[string]string {
	t.Helper()
	dc := testenv.Docker(t)
	got := map[string]string{}
	seen := map[string]bool{}
	for _, l := range cat.All() {
		if seen[l.Image] {
			continue
		}
		seen[l.Image] = true
		ii, err := dc.ImageInspect(context.Background(), l.Image)
		if err != nil {
			t.Errorf("image %s of %s: %v (build it with `app images build`)", l.Image, l.ID, err)
			continue
		}
		for id, v := range runtimes.VersionsOf(ii.Config.Labels) {
			got[id] = v
		}
	}
	if os.Getenv("EXECBOX_UPDATE_VERSIONS") == "1" {
		ids := make([]string, 0, len(got))
		for id := range got {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		b, _ := json.MarshalIndent(got, "", "  ")
		path := filepath.Join(testenv.RepoRoot(t), "pkg", "catalog", "versions.json")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d languages); rebuild and run again", path, len(ids))
	}
	return got
}

// buildExecutableProbe builds the "executable" language's probe into a
// static binary and returns it base64-encoded.
func buildExecutableProbe(t *testing.T) string {
	t.Helper()
	src := filepath.Join(testenv.RepoRoot(t), "testdata", "languages", "executable", "main.go")
	out := filepath.Join(t.TempDir(), "probe")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the executable probe: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// probeFile reads testdata/languages/<id>/<prefix>.* (or "" if absent).
func probeFile(t *testing.T, id, prefix string) (string, bool) {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(t), "testdata", "languages", id)
	m, _ := filepath.Glob(filepath.Join(dir, prefix+".*"))
	if len(m) == 0 {
		return "", false
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

func expected(lim limits) string {
	want := "hello, world\n"
	if !lim.noStdin {
		want += "stdin: ping\n"
	}
	if !lim.noArgs {
		for _, a := range probeArgs {
			want += "arg: " + a + "\n"
		}
	}
	return want
}

func runProbe(t *testing.T, d *sandbox.Driver, l catalog.Language, exe string) {
	lim := probeLimits[l.ID]
	var file job.File
	switch l.ID {
	case "executable":
		file = job.File{Name: l.SourceFile, Content: exe, Encoding: job.EncodingBase64}
	case "plaintext":
		src, ok := probeFile(t, l.ID, "text")
		if !ok {
			t.Fatalf("no probe testdata/languages/%s/text.txt", l.ID)
		}
		file = job.File{Name: l.SourceFile, Content: src}
	default:
		src, ok := probeFile(t, l.ID, "main")
		if !ok {
			t.Fatalf("no probe program testdata/languages/%s/main.*", l.ID)
		}
		file = job.File{Name: l.SourceFile, Content: src}
	}
	req := job.Request{Language: l.ID, Files: []job.File{file}}
	if !lim.noArgs {
		req.Args = probeArgs
	}
	var tests []string
	if !lim.noStdin {
		tests = append(tests, "ping")
		if !lim.noExit {
			tests = append(tests, "fail")
		}
		if !lim.noCrash {
			tests = append(tests, "crash")
		}
		for _, in := range tests {
			req.Tests = append(req.Tests, job.TestCase{Stdin: in + "\n"})
		}
	}
	res := execute(t, d, req)
	if len(l.Compile) > 0 && (res.Compile == nil || res.Compile.Verdict != job.StatusAccepted) {
		t.Fatalf("probe did not compile: %s", describe(res))
	}
	runs := res.Tests
	if len(tests) == 0 && res.Run != nil {
		runs = []job.Step{*res.Run}
		tests = []string{"ping"}
	}
	if len(runs) != len(tests) {
		t.Fatalf("got %d runs, want %d: %s", len(runs), len(tests), describe(res))
	}
	for i, in := range tests {
		r := runs[i]
		if testing.Verbose() {
			t.Logf("%s run: %s%s", in, r.Verdict, measured(r))
		}
		switch in {
		case "ping":
			if r.Verdict != job.StatusAccepted || r.Stdout.Text != expected(lim) {
				t.Errorf("hello/stdin/args run: verdict %s%s, stdout %q, want accepted and %q; stderr %q", r.Verdict, measured(r), r.Stdout.Text, expected(lim), r.Stderr.Text)
			}
		case "fail":
			if r.Verdict != job.StatusRuntimeError || r.ExitCode != 3 {
				t.Errorf("exit code run: verdict %s%s, exit code %d, signal %q, want runtime_error and 3; stderr %q", r.Verdict, measured(r), r.ExitCode, r.Signal, r.Stderr.Text)
			}
		case "crash":
			if r.Verdict != job.StatusRuntimeError {
				t.Errorf("runtime error run: verdict %s%s (exit %d, signal %q), want runtime_error; stdout %q stderr %q", r.Verdict, measured(r), r.ExitCode, r.Signal, r.Stdout.Text, r.Stderr.Text)
			}
		}
	}
	if alt, ok := probeFile(t, l.ID, "alt"); ok {
		// The same program under another name (Java: any public class).
		res := execute(t, d, job.Request{Language: l.ID, Files: []job.File{{Name: l.SourceFile, Content: alt}},
			Args: probeArgs, Stdin: "ping\n"})
		if res.Status != job.StatusAccepted || res.Run == nil || res.Run.Stdout.Text != expected(limits{}) {
			t.Errorf("alternative probe: %s", describe(res))
		}
	}
	if len(l.Compile) == 0 {
		return
	}
	bad, ok := probeFile(t, l.ID, "bad")
	if !ok {
		t.Fatalf("compiled language without a compile error probe testdata/languages/%s/bad.*", l.ID)
	}
	res = execute(t, d, job.Request{Language: l.ID, Files: []job.File{{Name: l.SourceFile, Content: bad}}})
	want := compileWant[l.ID]
	if want == "" {
		want = "undefined_name"
	}
	if res.Status != job.StatusCompilationError || res.Compile == nil {
		t.Fatalf("compile error probe: %s", describe(res))
	}
	if msg := res.Compile.Stdout.Text + res.Compile.Stderr.Text; !strings.Contains(msg, want) {
		t.Errorf("compile error message %q does not mention %q", msg, want)
	}
}

func execute(t *testing.T, d *sandbox.Driver, req job.Request) job.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	res, err := d.Execute(ctx, job.Job{ID: "matrix-" + hex.EncodeToString(id), Request: req, Attempt: 1})
	if err != nil {
		t.Fatalf("execute: %v", err)
	}
	return res
}

// measured says what a step used, and which limit it passed.
func measured(s job.Step) string {
	out := fmt.Sprintf(" (cpu %.0f ms, wall %.0f ms, memory %d KB", s.CPUTimeMs, s.WallTimeMs, s.MemoryKB)
	if s.LimitExceeded != "" {
		out += ", " + s.LimitExceeded + " limit exceeded"
	}
	return out + ")"
}

var describeMu sync.Mutex

func describe(r job.Result) string {
	describeMu.Lock()
	defer describeMu.Unlock()
	b, _ := json.Marshal(r)
	if len(b) > 4000 {
		b = append(b[:4000], "..."...)
	}
	return string(b)
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
		case <-time.After(50 * time.Millisecond):
		}
	}
}
