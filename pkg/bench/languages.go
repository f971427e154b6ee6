package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/sandbox"
)

// LanguagesOptions configures the per-language benchmark.
type LanguagesOptions struct {
	Catalog *catalog.Catalog
	// Languages to measure (default: every catalog language with a program).
	Languages []string
	// Programs is the directory of hello world programs, one
	// <id>/main.<ext> per language (the language matrix's probes).
	Programs   string
	Iterations int // per mode and language, default 3
	// AgentBinary is the static execbox binary for the sandboxes (default:
	// this executable).
	AgentBinary string
	Log         *slog.Logger
}

// LanguageSample is one language's figures (medians).
type LanguageSample struct {
	ID, Image  string
	ImageBytes int64
	Docker     time.Duration // docker run of the same image and program (compile + run)
	Cold, Warm time.Duration // execbox without and with a warm pool
	Compile    time.Duration // the compile step as the agent measured it (0: interpreted)
}

// Languages measures, for each language, hello world through the sandbox
// driver without a pool (cold) and with a warm one, next to a plain docker
// run of the same image that writes the same program, compiles it if the
// language compiles and runs it, and prints one table row per language.
func Languages(ctx context.Context, dc client.APIClient, opt LanguagesOptions, out io.Writer) ([]LanguageSample, error) {
	if opt.Iterations <= 0 {
		opt.Iterations = 3
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ids := opt.Languages
	if len(ids) == 0 {
		for _, l := range opt.Catalog.All() {
			if _, err := programFor(opt.Programs, l); err == nil {
				ids = append(ids, l.ID)
			}
		}
	}
	fmt.Fprintf(out, "language benchmark: hello world, %d iterations per mode, medians; docker run = the same image writing, compiling and running the same program\n", opt.Iterations)
	// A Markdown table, one row as soon as a language is done.
	fmt.Fprintln(out, "| language | image MB | docker run | cold | cold/docker | warm | warm/docker | compile |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|---:|")
	var samples []LanguageSample
	for _, id := range ids {
		l, ok := opt.Catalog.Lookup(id, "")
		if !ok {
			return samples, fmt.Errorf("bench: language %q is not in the catalog", id)
		}
		s, err := measureLanguage(ctx, dc, opt, l)
		if err != nil {
			return samples, fmt.Errorf("bench: %s: %w", id, err)
		}
		samples = append(samples, s)
		compile := "-"
		if s.Compile > 0 {
			compile = ms(s.Compile)
		}
		fmt.Fprintf(out, "| %s | %d | %s | %s | %.2fx | %s | %.2fx | %s |\n", s.ID, s.ImageBytes>>20, ms(s.Docker),
			ms(s.Cold), ratio(s.Cold, s.Docker), ms(s.Warm), ratio(s.Warm, s.Docker), compile)
	}
	return samples, nil
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// programFor reads <dir>/<id>/main.* (text.txt for plain text).
func programFor(dir string, l catalog.Language) (job.File, error) {
	pattern := filepath.Join(dir, l.ID, "main.*")
	if l.ID == "plaintext" {
		pattern = filepath.Join(dir, l.ID, "text.*")
	}
	m, _ := filepath.Glob(pattern)
	if len(m) == 0 || l.ID == "executable" {
		return job.File{}, fmt.Errorf("no program %s", pattern)
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		return job.File{}, err
	}
	return job.File{Name: l.SourceFile, Content: string(b)}, nil
}

func measureLanguage(ctx context.Context, dc client.APIClient, opt LanguagesOptions, l catalog.Language) (LanguageSample, error) {
	s := LanguageSample{ID: l.ID, Image: l.Image}
	ii, err := dc.ImageInspect(ctx, l.Image)
	if err != nil {
		return s, fmt.Errorf("image %s: %w (build it with `app images build %s`)", l.Image, err, l.ID)
	}
	s.ImageBytes = ii.Size
	prog, err := programFor(opt.Programs, l)
	if err != nil {
		return s, err
	}
	var docker []time.Duration
	for range opt.Iterations {
		start := time.Now()
		if err := dockerProgram(ctx, dc, l, prog); err != nil {
			return s, fmt.Errorf("docker run baseline: %w", err)
		}
		docker = append(docker, time.Since(start))
	}
	s.Docker = summarize("", docker, 0, 0).Median
	cold, compile, err := driverTimes(ctx, dc, opt, l, prog, 0)
	if err != nil {
		return s, err
	}
	warm, _, err := driverTimes(ctx, dc, opt, l, prog, 1)
	if err != nil {
		return s, err
	}
	s.Cold = summarize("", cold, 0, 0).Median
	s.Warm = summarize("", warm, 0, 0).Median
	if len(compile) > 0 {
		s.Compile = summarize("", compile, 0, 0).Median
	}
	return s, nil
}

// dockerProgram runs the program the plain way: docker run of the image
// with a shell that writes the source, compiles it (if the language
// compiles) and runs it, as root in the container's own file system.
func dockerProgram(ctx context.Context, dc client.APIClient, l catalog.Language, prog job.File) error {
	q := func(argv []string) string {
		parts := make([]string, len(argv))
		for i, a := range argv {
			a = strings.ReplaceAll(a, "{file}", prog.Name)
			a = strings.ReplaceAll(a, "{stem}", strings.TrimSuffix(prog.Name, filepath.Ext(prog.Name)))
			parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		return strings.Join(parts, " ")
	}
	script := `mkdir -p /tmp/w && cd /tmp/w && printf '%s' "$EXECBOX_SRC" >` + q([]string{prog.Name})
	if len(l.Compile) > 0 {
		script += " && " + q(l.Compile)
	}
	script += " && " + q(l.Run) + " </dev/null >/dev/null"
	env := append([]string{"EXECBOX_SRC=" + prog.Content, "HOME=/tmp/w"}, l.Env...)
	cr, err := dc.ContainerCreate(ctx, &container.Config{Image: l.Image, Cmd: []string{"sh", "-c", script}, Env: env},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		return err
	}
	defer dc.ContainerRemove(context.WithoutCancel(ctx), cr.ID, container.RemoveOptions{Force: true})
	waitC, errC := dc.ContainerWait(ctx, cr.ID, container.WaitConditionNextExit)
	if err := dc.ContainerStart(ctx, cr.ID, container.StartOptions{}); err != nil {
		return err
	}
	select {
	case w := <-waitC:
		if w.StatusCode != 0 {
			return fmt.Errorf("exit status %d", w.StatusCode)
		}
		return nil
	case err := <-errC:
		return err
	}
}

// driverTimes times opt.Iterations jobs (timedRuns) and returns their
// latencies and the compile times.
func driverTimes(ctx context.Context, dc client.APIClient, opt LanguagesOptions, l catalog.Language, prog job.File, pool int) (lat, compile []time.Duration, err error) {
	runs, err := timedRuns(ctx, dc, sandbox.Config{Catalog: opt.Catalog, AgentBinary: opt.AgentBinary}, opt.Log, l, prog, pool, opt.Iterations)
	for _, r := range runs {
		lat = append(lat, r.took)
		if r.res.Compile != nil {
			compile = append(compile, time.Duration(r.res.Compile.WallTimeMs*float64(time.Millisecond)))
		}
	}
	return lat, compile, err
}
