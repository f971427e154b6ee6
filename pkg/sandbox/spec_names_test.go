package sandbox

import (
	"reflect"
	"testing"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/job"
)

func TestSourceFileNames(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	lang := func(id string) catalog.Language {
		l, ok := cat.Lookup(id, "")
		if !ok {
			t.Fatalf("no %s in the catalog", id)
		}
		return l
	}
	for _, tc := range []struct {
		name     string
		lang     string
		files    []job.File
		wantName string
		wantRun  []string
	}{
		{"a script keeps the client's name", "python", []job.File{{Name: "solve.py", Content: "print(1)"}}, "solve.py", []string{"python3", "solve.py"}},
		{"a name without the extension becomes the source file", "python", []job.File{{Name: "solve", Content: "x"}}, "main.py", []string{"python3", "main.py"}},
		{"no name: the source file", "ruby", []job.File{{Content: "x"}}, "main.rb", []string{"ruby", "main.rb"}},
		{"an option-like name is not kept", "python", []job.File{{Name: "-c.py", Content: "x"}}, "main.py", []string{"python3", "main.py"}},
		{"the file named like the source file is the main one", "python",
			[]job.File{{Name: "lib.py", Content: "x"}, {Name: "main.py", Content: "import lib"}}, "main.py", []string{"python3", "main.py"}},
		{"Java: the public class names the file", "java", []job.File{{Name: "Main.java", Content: "public class Solution {}"}},
			"Solution.java", []string{"java", "-cp", ".", "Solution"}},
		{"Java: Main stays Main", "java", []job.File{{Content: "public class Main {}"}}, "Main.java", []string{"java", "-cp", ".", "Main"}},
		{"fixed names stay fixed", "kotlin", []job.File{{Name: "app.kt", Content: "fun main() {}"}}, "Main.kt", []string{"kotlin", "MainKt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := lang(tc.lang)
			files, main := sourceFiles(l, tc.files)
			if main != tc.wantName {
				t.Errorf("main file %q, want %q (files %+v)", main, tc.wantName, files)
			}
			if got := expand(l.Run, main); !reflect.DeepEqual(got, tc.wantRun) {
				t.Errorf("run %q, want %q", got, tc.wantRun)
			}
		})
	}
}
