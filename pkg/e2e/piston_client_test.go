package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/testenv"
)

// pistonLib is a two-file program in one language, by Piston name: an
// entry point that uses the second file (an import, an include).
type pistonLib struct{ main, libName, lib string }

var pistonLibs = map[string]pistonLib{
	"bash":       {main: "source ./lib.sh; f", libName: "lib.sh", lib: "f() { echo lib ok; }"},
	"python":     {main: "from lib import f\nprint(f())", libName: "lib.py", lib: "def f():\n    return 'lib ok'\n"},
	"javascript": {main: "console.log(require('./lib.js').f());", libName: "lib.js", lib: "exports.f = () => 'lib ok';"},
	"c": {main: "#include <stdio.h>\n#include \"lib.h\"\nint main(void) { puts(f()); return 0; }\n", libName: "lib.h",
		lib: "static const char *f(void) { return \"lib ok\"; }\n"},
	"c++": {main: "#include <iostream>\n#include \"lib.hpp\"\nint main() { std::cout << f() << '\\n'; }\n", libName: "lib.hpp",
		lib: "inline const char *f() { return \"lib ok\"; }\n"},
	"ruby": {main: "require_relative 'lib'\nputs f", libName: "lib.rb", lib: "def f\n  'lib ok'\nend\n"},
	"perl": {main: "use lib '.'; use Lib; print Lib::f(), \"\\n\";", libName: "Lib.pm", lib: "package Lib; sub f { 'lib ok' } 1;"},
	"lua": {main: "package.path = './?.lua;' .. package.path\nprint(require('lib').f())", libName: "lib.lua",
		lib: "return { f = function() return 'lib ok' end }"},
	"rust": {main: "mod lib;\nfn main() { println!(\"{}\", lib::f()); }\n", libName: "lib.rs", lib: "pub fn f() -> &'static str { \"lib ok\" }\n"},
}

// pistonLoops never end, one per catalog language id: the run-timeout case.
// plaintext (cat) and executable (a binary) have none.
var pistonLoops = map[string]string{
	"bash": "while :; do :; done", "zsh": "while :; do :; done", "dash": "while :; do :; done",
	"awk":    "BEGIN { while (1) {} }",
	"sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;",
	"forth":  ": f begin again ; f",
	"c":      "int main(void) { volatile int x = 0; for (;;) x++; }\n", "c-clang": "int main(void) { volatile int x = 0; for (;;) x++; }\n",
	"objc": "int main(void) { volatile int x = 0; for (;;) x++; }\n",
	"cpp":  "int main() { volatile int x = 0; for (;;) x++; }\n", "cpp-clang": "int main() { volatile int x = 0; for (;;) x++; }\n",
	"fortran": "program main\n  do\n  end do\nend program main\n",
	"d":       "void main() { for (;;) {} }\n",
	"ada":     "procedure Main is\nbegin\n   loop\n      null;\n   end loop;\nend Main;\n",
	"nasm":    "section .text\nglobal _start\n_start:\n    jmp _start\n",
	"cobol":   "IDENTIFICATION DIVISION.\nPROGRAM-ID. loop.\nPROCEDURE DIVISION.\n    PERFORM UNTIL 1 = 2\n        CONTINUE\n    END-PERFORM.\n    STOP RUN.\n",
	"prolog":  ":- initialization(main).\nmain :- repeat, fail.\n",
	"nim":     "while true: discard\n",
	"pascal":  "program main;\nbegin\n  while true do ;\nend.\n",
	"crystal": "loop do\nend\n",
	"java":    "public class Main { public static void main(String[] a) { for (;;) {} } }\n",
	"kotlin":  "fun main() { while (true) {} }\n",
	"scala":   "object Main { def main(a: Array[String]): Unit = { while (true) {} } }\n",
	"groovy":  "while (true) {}\n", "clojure": "(loop [] (recur))\n",
	"csharp": "class P { static void Main() { for (;;) {} } }\n",
	"python": "while True:\n    pass\n", "pypy": "while True:\n    pass\n",
	"javascript": "for (;;) {}\n", "typescript": "for (;;) {}\n", "coffeescript": "loop\n  x = 1\n",
	"ruby": "loop {}\n", "perl": "1 while 1;\n", "php": "<?php while (true) {}\n", "lua": "while true do end\n",
	"tcl": "while 1 {}\n", "raku": "loop { }\n",
	"go":         "package main\n\nfunc main() {\n\tfor {\n\t}\n}\n",
	"rust":       "fn main() { loop {} }\n",
	"haskell":    "import Control.Monad\nmain :: IO ()\nmain = forever (return ())\n",
	"ocaml":      "let rec f () = f () in f ()\n",
	"commonlisp": "(loop)\n", "racket": "#lang racket/base\n(let loop () (loop))\n",
	"scheme": "(let loop () (loop))\n", "chez": "(let loop () (loop))\n",
	"erlang": "-module(main).\n-export([main/1]).\nmain(_) -> loop().\nloop() -> loop().\n",
	"elixir": "defmodule L do\n  def f, do: f()\nend\nL.f()\n",
	"r":      "repeat {}\n", "octave": "while true\nend\n",
}

// What a language's probe cannot show (as in pkg/runtimes' matrix).
var pistonProbeLimits = map[string]struct{ noStdin, noArgs bool }{
	"plaintext": {noStdin: true, noArgs: true},
	"sqlite":    {noArgs: true},
}

type pistonCase struct {
	Name     string         `json:"name"`
	Language string         `json:"language"`
	Code     *string        `json:"code,omitempty"`
	Config   map[string]any `json:"config"`
}

type pistonStage struct {
	Stdout string  `json:"stdout"`
	Stderr string  `json:"stderr"`
	Output string  `json:"output"`
	Code   *int    `json:"code"`
	Signal *string `json:"signal"`
	Status *string `json:"status"`
}

type pistonAnswer struct {
	Language string       `json:"language"`
	Version  string       `json:"version"`
	Run      pistonStage  `json:"run"`
	Compile  *pistonStage `json:"compile"`
	Message  string       `json:"message"`
	Success  *bool        `json:"success"`
}

// TestPistonClient runs the npm piston-client package as its users install
// it (scripts/testenv.sh puts it in the cache), unmodified and with no
// header workaround, against `app all`: runtimes(), then execute() for
// every language of the test catalog: its probe program
// (testdata/languages/<id>) with stdin and args, the probe beside a data
// file under a name the client chose with a semver range, a program that
// never ends under a run timeout and, for compiled languages, a compile
// timeout (the run mirrors the compile). The languages in pistonLibs also
// run a two-file program whose entry point uses the second file.
func TestPistonClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed to run the npm piston-client (scripts/testenv.sh installs it)")
	}
	dir := os.Getenv("EXECBOX_TEST_PISTON_CLIENT")
	if dir == "" {
		dir = "/var/cache/execbox/npm/piston-client-1.0.2"
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "piston-client", "index.js")); err != nil {
		t.Fatalf("piston-client is not installed in %s (scripts/testenv.sh installs it): %v", dir, err)
	}
	cat, err := catalog.Load(testenv.Runtimes(t))
	if err != nil {
		t.Fatal(err)
	}
	base := startAllEmbedded(t)

	// The catalog's Piston runtimes, as the client will list them.
	var rts []struct{ Language, Version string }
	resp, err := http.Get(base + "/api/v2/runtimes")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&rts)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("runtimes: %d %v", resp.StatusCode, err)
	}
	versions := map[string]string{}
	for _, r := range rts {
		versions[r.Language] = r.Version
	}
	byPiston := map[string]catalog.Language{}
	for _, l := range cat.All() {
		name := l.Piston.Language
		if name == "" {
			name = l.ID
		}
		byPiston[name] = l
	}
	if len(byPiston) != len(cat.All()) || len(versions) != len(byPiston) {
		t.Fatalf("%d catalog languages, %d Piston names, %d runtimes listed", len(cat.All()), len(byPiston), len(versions))
	}

	var cases []pistonCase
	want := map[string]string{} // echo and data cases: the probe's stdout
	str := func(s string) *string { return &s }
	for name, l := range byPiston {
		lim := pistonProbeLimits[l.ID]
		probe := probeFile(t, l.ID)
		file := map[string]string{"content": probe}
		if l.ID == "executable" {
			file = map[string]string{"name": "a.out", "content": base64.StdEncoding.EncodeToString([]byte(executableProbe)), "encoding": "base64"}
		}
		args := []string{"one", "two"}
		if lim.noArgs {
			args = []string{} // the client's default is ["1", "2", "3"]
		}
		out := "hello, world\n"
		if !lim.noStdin {
			out += "stdin: ping\n"
		}
		for _, a := range args {
			out += "arg: " + a + "\n"
		}
		major := strings.SplitN(versions[name], ".", 2)[0]
		// The entry point under a name the client chose (kept where the
		// language's commands take any name), beside a data file.
		named := map[string]string{"name": "solution" + path.Ext(l.SourceFile), "content": file["content"]}
		if e := file["encoding"]; e != "" {
			named["name"], named["encoding"] = file["name"], e
		}
		// The client sends its own timeouts (10 s to compile, 3 s to run)
		// unless told; 0 keeps the language's defaults, as in Piston: slow
		// compilers (kotlinc, scalac, tsc) take longer on a loaded machine.
		cases = append(cases,
			pistonCase{Name: name + "/echo", Language: name, Config: map[string]any{"language": name, "version": versions[name],
				"files": []map[string]string{file}, "stdin": "ping\n", "args": args, "compileTimeout": 0, "runTimeout": 0}},
			pistonCase{Name: name + "/files", Language: name, Config: map[string]any{"language": name, "version": major + ".x",
				"files": []map[string]string{named, {"name": "data.txt", "content": "not the entry point"}}, "stdin": "ping\n", "args": args,
				"compileTimeout": 0, "runTimeout": 0}},
		)
		want[name+"/echo"], want[name+"/files"] = out, out
		if lib, ok := pistonLibs[name]; ok {
			cases = append(cases, pistonCase{Name: name + "/lib", Language: name, Config: map[string]any{"language": name, "version": "*",
				"files":          []map[string]string{{"name": "main", "content": lib.main}, {"name": lib.libName, "content": lib.lib}},
				"compileTimeout": 0, "runTimeout": 0}})
		}
		if loop, ok := pistonLoops[l.ID]; ok {
			cases = append(cases, pistonCase{Name: name + "/run-timeout", Language: name, Code: str(loop),
				Config: map[string]any{"runTimeout": 500, "compileTimeout": 0}})
		}
		if len(l.Compile) > 0 {
			cases = append(cases, pistonCase{Name: name + "/compile-timeout", Language: name, Code: str(probe), Config: map[string]any{"compileTimeout": 1}})
		}
	}
	for name, l := range byPiston {
		if _, ok := pistonLoops[l.ID]; !ok && l.ID != "plaintext" && l.ID != "executable" {
			t.Errorf("no never-ending program for %s (%s) in pistonLoops", l.ID, name)
		}
	}
	casesFile := filepath.Join(t.TempDir(), "cases.json")
	raw, _ := json.Marshal(cases)
	if err := os.WriteFile(casesFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	// As many requests at once as the executor has slots.
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "piston_client.mjs"), dir, base, casesFile, "4")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	t.Logf("%d cases in %d languages through piston-client in %s", len(cases), len(byPiston), time.Since(start).Round(time.Second))
	var got struct {
		Runtimes []map[string]any `json:"runtimes"`
		Results  []struct {
			Case   string       `json:"case"`
			Answer pistonAnswer `json:"answer"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("client output %s: %v", out, err)
	}
	if len(got.Runtimes) != len(byPiston) {
		t.Errorf("runtimes() listed %d, want %d", len(got.Runtimes), len(byPiston))
	}
	for _, r := range got.Results {
		a := r.Answer
		ja, _ := json.Marshal(a)
		desc := fmt.Sprintf("%s: %s", r.Case, ja)
		if a.Message != "" || a.Success != nil {
			t.Errorf("%s refused", desc)
			continue
		}
		lang := r.Case[:strings.LastIndex(r.Case, "/")]
		if a.Language != lang || a.Version != versions[lang] {
			t.Errorf("%s ran another runtime", desc)
		}
		code := func(st pistonStage) int {
			if st.Code == nil {
				return -1
			}
			return *st.Code
		}
		switch kind := r.Case[len(lang)+1:]; kind {
		case "echo", "files":
			if a.Run.Stdout != want[r.Case] || code(a.Run) != 0 || a.Run.Status != nil {
				t.Errorf("%s: want stdout %q", desc, want[r.Case])
			}
		case "lib":
			if a.Run.Stdout != "lib ok\n" || code(a.Run) != 0 {
				t.Errorf("%s", desc)
			}
		case "run-timeout":
			if a.Run.Status == nil || *a.Run.Status != "TO" || (a.Compile != nil && a.Compile.Status != nil) {
				t.Errorf("%s: want run status TO after a clean compile", desc)
			}
		case "compile-timeout":
			if a.Compile == nil || a.Compile.Status == nil || *a.Compile.Status != "TO" || a.Run.Status == nil || *a.Run.Status != "TO" {
				t.Errorf("%s: want compile (and run, mirroring it) status TO", desc)
			}
		}
	}
	if len(got.Results) != len(cases) {
		t.Errorf("%d answers for %d cases", len(got.Results), len(cases))
	}
}

// probeFile is the probe program of a catalog language
// (testdata/languages/<id>/main.*, text.txt for plaintext).
func probeFile(t *testing.T, id string) string {
	t.Helper()
	prefix := "main"
	if id == "plaintext" {
		prefix = "text"
	}
	m, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "testdata", "languages", id, prefix+".*"))
	if len(m) == 0 {
		t.Fatalf("no probe program testdata/languages/%s/%s.*", id, prefix)
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// executableProbe is what the client sends the "file" runtime (Judge0's
// executable, 44) base64-encoded, as a binary: a script with a #! line,
// since a static probe binary is larger than the gateway's source limit.
const executableProbe = "#!/bin/sh\necho 'hello, world'\nread -r line\necho \"stdin: $line\"\nfor a in \"$@\"; do echo \"arg: $a\"; done\n"
