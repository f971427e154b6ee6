package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pistonProgram is what the Piston client test runs in one language: a
// program echoing a stdin word and its args, a two-file program whose entry
// point uses the second file, and a program that never ends.
type pistonProgram struct {
	echo, main, libName, lib, loop string
	compiled                       bool
}

var pistonPrograms = map[string]pistonProgram{
	"bash": {echo: "read x; echo hello $x \"$@\"", main: "source ./lib.sh; f", libName: "lib.sh", lib: "f() { echo lib ok; }",
		loop: "while :; do :; done"},
	"python": {echo: "import sys\nprint('hello', sys.stdin.readline().strip(), *sys.argv[1:])",
		main: "from lib import f\nprint(f())", libName: "lib.py", lib: "def f():\n    return 'lib ok'\n", loop: "while True:\n    pass\n"},
	"javascript": {echo: "const x = require('fs').readFileSync(0, 'utf8').trim();\nconsole.log(['hello', x, ...process.argv.slice(2)].join(' '));",
		main: "console.log(require('./lib.js').f());", libName: "lib.js", lib: "exports.f = () => 'lib ok';", loop: "for (;;) {}"},
	"c": {echo: "#include <stdio.h>\nint main(int c, char **v) { char b[64] = {0}; scanf(\"%63s\", b); printf(\"hello %s\", b);\n" +
		"for (int i = 1; i < c; i++) printf(\" %s\", v[i]); printf(\"\\n\"); return 0; }\n",
		main: "#include <stdio.h>\n#include \"lib.h\"\nint main(void) { puts(f()); return 0; }\n", libName: "lib.h",
		lib: "static const char *f(void) { return \"lib ok\"; }\n", loop: "int main(void) { volatile int x = 0; for (;;) x++; }\n", compiled: true},
	"c++": {echo: "#include <iostream>\n#include <string>\nint main(int c, char **v) { std::string b; std::cin >> b; std::cout << \"hello \" << b;\n" +
		"for (int i = 1; i < c; i++) std::cout << ' ' << v[i]; std::cout << '\\n'; }\n",
		main: "#include <iostream>\n#include \"lib.hpp\"\nint main() { std::cout << f() << '\\n'; }\n", libName: "lib.hpp",
		lib: "inline const char *f() { return \"lib ok\"; }\n", loop: "int main() { volatile int x = 0; for (;;) x++; }\n", compiled: true},
	"ruby": {echo: "x = STDIN.gets.strip\nputs ([\"hello\", x] + ARGV).join(\" \")", main: "require_relative 'lib'\nputs f",
		libName: "lib.rb", lib: "def f\n  'lib ok'\nend\n", loop: "loop {}"},
	"perl": {echo: "my $x = <STDIN>; chomp $x; print join(' ', 'hello', $x, @ARGV), \"\\n\";",
		main: "use lib '.'; use Lib; print Lib::f(), \"\\n\";", libName: "Lib.pm", lib: "package Lib; sub f { 'lib ok' } 1;", loop: "1 while 1;"},
	"lua": {echo: "local x = io.read('l')\nprint(table.concat({'hello', x, table.unpack(arg)}, ' '))",
		main: "package.path = './?.lua;' .. package.path\nprint(require('lib').f())", libName: "lib.lua",
		lib: "return { f = function() return 'lib ok' end }", loop: "while true do end"},
	"rust": {echo: "use std::io::BufRead;\nfn main() { let mut x = String::new(); std::io::stdin().lock().read_line(&mut x).unwrap();\n" +
		"let mut v = vec![\"hello\".to_string(), x.trim().to_string()]; v.extend(std::env::args().skip(1)); println!(\"{}\", v.join(\" \")); }\n",
		main: "mod lib;\nfn main() { println!(\"{}\", lib::f()); }\n", libName: "lib.rs", lib: "pub fn f() -> &'static str { \"lib ok\" }\n",
		loop: "fn main() { loop {} }\n", compiled: true},
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
// header workaround, against `app all`: runtimes(), then execute() in every
// language of the test catalog with stdin, args, several files, a semver
// range, and run and compile timeouts. Languages without a program in
// pistonPrograms are listed in the log.
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
	base := startAllEmbedded(t)

	// The catalog's Piston runtimes, as the client will list them.
	var langs []string
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
		langs = append(langs, r.Language)
		versions[r.Language] = r.Version
	}
	var cases []pistonCase
	var missing []string
	defer func() {
		if len(missing) > 0 {
			t.Logf("no Piston client program yet for %d languages (add them to pistonPrograms): %s", len(missing), strings.Join(missing, ", "))
		}
	}()
	str := func(s string) *string { return &s }
	for _, l := range langs {
		p, ok := pistonPrograms[l]
		if !ok {
			// The catalog grew past the programs written so far; the
			// runtimes() answer is still checked for it.
			missing = append(missing, l)
			continue
		}
		major := strings.SplitN(versions[l], ".", 2)[0]
		cases = append(cases,
			pistonCase{Name: l + "/echo", Language: l, Code: str(p.echo), Config: map[string]any{"stdin": "world\n", "args": []string{"a", "b c"}}},
			pistonCase{Name: l + "/files", Language: l, Config: map[string]any{"language": l, "version": major + ".x",
				"files": []map[string]string{{"name": "main", "content": p.main}, {"name": p.libName, "content": p.lib}}}},
			pistonCase{Name: l + "/run-timeout", Language: l, Code: str(p.loop), Config: map[string]any{"runTimeout": 500}},
		)
		if p.compiled {
			cases = append(cases, pistonCase{Name: l + "/compile-timeout", Language: l, Code: str(p.echo), Config: map[string]any{"compileTimeout": 1}})
		}
	}
	casesFile := filepath.Join(t.TempDir(), "cases.json")
	raw, _ := json.Marshal(cases)
	if err := os.WriteFile(casesFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "piston_client.mjs"), dir, base, casesFile)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
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
	if len(got.Runtimes) != len(langs) {
		t.Errorf("runtimes() listed %d, want %d", len(got.Runtimes), len(langs))
	}
	for _, r := range got.Results {
		a := r.Answer
		ja, _ := json.Marshal(a)
		desc := fmt.Sprintf("%s: %s", r.Case, ja)
		if a.Message != "" || a.Success != nil {
			t.Errorf("%s refused", desc)
			continue
		}
		lang := r.Case[:strings.Index(r.Case, "/")]
		if a.Language != lang || a.Version != versions[lang] {
			t.Errorf("%s ran another runtime", desc)
		}
		code := func(st pistonStage) int {
			if st.Code == nil {
				return -1
			}
			return *st.Code
		}
		switch {
		case strings.HasSuffix(r.Case, "/echo"):
			if a.Run.Stdout != "hello world a b c\n" || code(a.Run) != 0 || a.Run.Status != nil {
				t.Errorf("%s", desc)
			}
		case strings.HasSuffix(r.Case, "/files"):
			if a.Run.Stdout != "lib ok\n" || code(a.Run) != 0 {
				t.Errorf("%s", desc)
			}
		case strings.HasSuffix(r.Case, "/run-timeout"):
			if a.Run.Status == nil || *a.Run.Status != "TO" {
				t.Errorf("%s: want run status TO", desc)
			}
		case strings.HasSuffix(r.Case, "/compile-timeout"):
			if a.Compile == nil || a.Compile.Status == nil || *a.Compile.Status != "TO" || a.Run.Status == nil || *a.Run.Status != "TO" {
				t.Errorf("%s: want compile (and run, mirroring it) status TO", desc)
			}
		}
	}
	if len(got.Results) != len(cases) {
		t.Errorf("%d answers for %d cases", len(got.Results), len(cases))
	}
}
