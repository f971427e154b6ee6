package sandbox

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/execbox/app/pkg/agent"
	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/job"
)

// buildSpec turns a request into the agent's job: catalog commands with the
// request's args, limits defaulted from the language and clamped to the
// executor's maximums. A single file (or, with several, the first when none
// has the language's source file name) is written as the source file.
func (d *Driver) buildSpec(lang catalog.Language, req job.Request) (agent.Spec, need, error) {
	if len(req.Files) == 0 {
		return agent.Spec{}, need{}, errors.New("no files to run")
	}
	files, main := sourceFiles(lang, req.Files)
	run := d.clamp(merge(req.Limits, lang.Limits))
	spec := agent.Spec{
		Files:          files,
		Env:            lang.Env,
		Run:            agent.Command{Argv: append(expand(lang.Run, main), req.Args...), Limits: run},
		Tests:          req.Tests,
		Stdin:          req.Stdin,
		UID:            d.uid(),
		FileBytes:      d.cfg.WorkDirBytes,
		OpenFiles:      d.cfg.OpenFiles,
		MaxResultBytes: d.cfg.MaxResultBytes - 4096,
		LimitInChild:   gvisor(d.cfg.Runtime),
	}
	if gvisor(d.cfg.Runtime) {
		spec.MaxStackBytes = gvisorMaxStack
		spec.CPUs = d.cfg.CPUs
	}
	spec.MergeStderr = req.MergeStderr
	if req.Interactive != nil {
		spec.Interactive = true
		spec.IdleTimeoutMs = req.Interactive.IdleTimeoutMs
		spec.Tests, spec.Stdin = nil, ""
	}
	n := need{memoryKB: run.MemoryKB, processes: run.Processes}
	if len(lang.Compile) > 0 {
		cl := lang.CompileLimits
		if cl == (job.Limits{}) {
			cl = lang.Limits
		}
		cl = d.clamp(merge(req.CompileLimits, merge(cl, lang.Limits)))
		spec.Compile = &agent.Command{Argv: append(expand(lang.Compile, main), req.CompileArgs...), Limits: cl}
		n.memoryKB = max(n.memoryKB, cl.MemoryKB)
		n.processes = max(n.processes, cl.Processes)
	}
	return spec, n, nil
}

// sourceFiles names the job's files: the main file is the one named like
// the language's source file, else the first. Its name becomes the source
// file's, unless the language's commands take the name as "{file}" or
// "{stem}" and the client's name has the right extension (scripts keep the
// name they were sent with); a language with a source name pattern (Java's
// public class) names it after the match. It returns the files and the
// main file's name.
func sourceFiles(lang catalog.Language, in []job.File) ([]job.File, string) {
	files := append([]job.File(nil), in...)
	mainIdx := 0
	for i, f := range files {
		if f.Name == lang.SourceFile {
			mainIdx = i
			break
		}
	}
	m := &files[mainIdx]
	if !usesName(lang) || path.Ext(m.Name) != path.Ext(lang.SourceFile) || !plainName(m.Name) {
		m.Name = lang.SourceFile
	}
	if lang.SourceNamePattern != "" {
		src := m.Content
		if b, err := m.Bytes(); err == nil {
			src = string(b)
		}
		if n := lang.SourceName(src); n != "" && !taken(files, n, mainIdx) {
			m.Name = n
		}
	}
	return files, m.Name
}

func usesName(l catalog.Language) bool {
	for _, a := range append(append([]string(nil), l.Compile...), l.Run...) {
		if strings.Contains(a, "{file}") || strings.Contains(a, "{stem}") {
			return true
		}
	}
	return false
}

// plainName: a file name in the work directory itself, not an option.
func plainName(n string) bool {
	return n != "" && !strings.ContainsAny(n, "/\\") && !strings.HasPrefix(n, "-") && !strings.HasPrefix(n, ".")
}

func taken(files []job.File, name string, except int) bool {
	for i, f := range files {
		if i != except && f.Name == name {
			return true
		}
	}
	return false
}

// expand returns argv with {file} and {stem} replaced by the main file's
// name and that name without its extension.
func expand(argv []string, file string) []string {
	r := strings.NewReplacer("{file}", file, "{stem}", strings.TrimSuffix(file, path.Ext(file)))
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = r.Replace(a)
	}
	return out
}

// languageNeed is what a pooled sandbox of lang is sized for: its defaults.
func (d *Driver) languageNeed(lang catalog.Language) need {
	_, n, _ := d.buildSpec(lang, job.Request{Files: []job.File{{Name: lang.SourceFile}}})
	return n
}

// merge fills zero limits from def.
func merge(l, def job.Limits) job.Limits {
	pick := func(v, d int64) int64 {
		if v > 0 {
			return v
		}
		return d
	}
	return job.Limits{
		CPUTimeMs:   pick(l.CPUTimeMs, def.CPUTimeMs),
		WallTimeMs:  pick(l.WallTimeMs, def.WallTimeMs),
		MemoryKB:    pick(l.MemoryKB, def.MemoryKB),
		Processes:   pick(pick(l.Processes, def.Processes), 64),
		OutputBytes: pick(pick(l.OutputBytes, def.OutputBytes), 1<<20),
		FileKB:      pick(l.FileKB, def.FileKB),
		StackKB:     pick(l.StackKB, def.StackKB),
	}
}

// clamp bounds limits by the executor's maximums.
func (d *Driver) clamp(l job.Limits) job.Limits {
	maxWall := d.cfg.MaxWall.Milliseconds()
	l.WallTimeMs = min(max(l.WallTimeMs, 1), maxWall)
	l.CPUTimeMs = min(max(l.CPUTimeMs, 1), maxWall)
	l.MemoryKB = min(max(l.MemoryKB, 1024), d.cfg.MaxMemoryKB)
	l.Processes = min(max(l.Processes, 1), d.cfg.MaxProcesses)
	l.OutputBytes = min(max(l.OutputBytes, 1), d.cfg.MaxOutputBytes)
	// Unset (0), the file size is bounded by the work directory's size
	// (the agent's hard RLIMIT_FSIZE) and the stack by the memory limit.
	l.FileKB = min(max(l.FileKB, 0), d.cfg.WorkDirBytes>>10)
	l.StackKB = min(max(l.StackKB, 0), l.MemoryKB)
	return l
}

// toResult maps the agent's result to the wire result and the overall
// verdict: a failed compile is compilation_error; otherwise the first run
// (in order) that was not accepted decides, else accepted.
func (d *Driver) toResult(ctx context.Context, sb *sandbox, req job.Request, ar agent.Result) job.Result {
	if ar.Error != "" {
		return internalError(ar.Error)
	}
	// A SIGKILL the agent did not send: the memory cgroup's OOM killer, if
	// Docker says it struck.
	unexplained := ar.Compile != nil && ar.Compile.UnexplainedKill
	for _, r := range ar.Runs {
		unexplained = unexplained || r.UnexplainedKill
	}
	oom := false
	if unexplained {
		oom, _ = d.state(ctx, sb)
	}
	fix := func(s agent.Step, compile bool) job.Step {
		if s.UnexplainedKill && oom {
			if !compile {
				s.Verdict = job.StatusMemoryLimit
			}
			s.LimitExceeded = "memory"
			s.Message = "killed by the kernel's OOM killer (memory limit)"
		}
		return s.Step
	}
	var res job.Result
	if ar.Compile != nil {
		c := fix(*ar.Compile, true)
		res.Compile = &c
		if c.Verdict != job.StatusAccepted {
			res.Status = job.StatusCompilationError
			res.Message = "compilation failed"
			if c.LimitExceeded != "" {
				res.Message = "compilation failed: " + c.Message
			}
			return res
		}
	}
	if len(ar.Runs) == 0 {
		return internalError("sandbox returned no run")
	}
	runs := make([]job.Step, len(ar.Runs))
	for i, r := range ar.Runs {
		runs[i] = fix(r, false)
	}
	first := runs[0]
	res.Run = &first
	if len(req.Tests) > 0 {
		res.Tests = runs
	}
	res.Status = job.StatusAccepted
	for i, r := range runs {
		if r.Verdict != job.StatusAccepted {
			res.Status = r.Verdict
			res.Message = r.Message
			if len(runs) > 1 {
				res.Message = fmt.Sprintf("test %d: %s", i+1, nonEmpty(r.Message, string(r.Verdict)))
			}
			break
		}
	}
	return res
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func seconds(ms float64) float64 { return (time.Duration(ms * float64(time.Millisecond))).Seconds() }
