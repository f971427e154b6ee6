package cmd

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// processFlags are the flags of a split role's own process: its listen
// address, the other roles' URLs, the executor registry (how split executors
// and workers find each other) and the internal token. app all has one
// listen address of its own and none of the others.
var processFlags = map[string]bool{
	"host": true, "port": true, "http-body-timeout": true, "http-idle-timeout": true, "http-max-connections": true, "internal-token": true, "insecure-no-token": true,
	"queue-url": true, "storage-url": true, "executor-urls": true,
	"registry-url": true, "registry-prefix": true, "announce-url": true, "announce-ttl": true,
}

// serveFlags are the process flags every serving command has, app all too.
var serveFlags = map[string]bool{"host": true, "port": true, "http-body-timeout": true, "http-idle-timeout": true, "http-max-connections": true}

// TestAllHasEveryTunable checks that app all exposes every tunable of every
// split role under the same name, with the same default and help text (and
// so the same environment variable), and none of their process flags.
func TestAllHasEveryTunable(t *testing.T) {
	t.Parallel()
	root := NewRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	allCmd, _, err := root.Find([]string{"all"})
	if err != nil {
		t.Fatal(err)
	}
	allFlags := allCmd.LocalFlags()
	for _, name := range []string{"gateway", "queue", "worker", "executor", "storage"} {
		c, _, err := root.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			a := allFlags.Lookup(f.Name)
			switch {
			case processFlags[f.Name]:
				if a != nil && !serveFlags[f.Name] {
					t.Errorf("app all has --%s, a flag of the %s process only", f.Name, name)
				}
			case a == nil:
				t.Errorf("app all lacks --%s of app %s", f.Name, name)
			case a.DefValue != f.DefValue:
				t.Errorf("--%s: default %q in app all, %q in app %s", f.Name, a.DefValue, f.DefValue, name)
			case a.Usage != f.Usage:
				t.Errorf("--%s: help %q in app all, %q in app %s", f.Name, a.Usage, f.Usage, name)
			case a.Value.Type() != f.Value.Type():
				t.Errorf("--%s: type %s in app all, %s in app %s", f.Name, a.Value.Type(), f.Value.Type(), name)
			default:
				n++
			}
		})
		if n == 0 {
			t.Errorf("app %s has no tunables in app all", name)
		}
	}
}

// TestAllSharedFlagsSetEveryRole checks that a flag two roles share in app
// all (--redis-url for the queue and storage) reaches both.
func TestAllSharedFlagsSetEveryRole(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	root := NewRootCmd(&out, &bytes.Buffer{})
	root.SetArgs([]string{"all", "--print-config", "--redis-url", "redis://:pw@127.0.0.1:1/0", "--redis-prefix", "p1", "--runtimes", "/x.json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"redis-url=redis://:********@127.0.0.1:1/0\n", "redis-prefix=p1\n", "runtimes=/x.json\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--print-config lacks %q:\n%s", want, out.String())
		}
	}
}

// TestNoLiteralFlagDefaults checks that every flag of cmd/ (but the
// benchmarks') and roles/ takes its default from a DefaultConfig (or a
// named default), never a literal: each default is written once, where the
// settings live.
func TestNoLiteralFlagDefaults(t *testing.T) {
	t.Parallel()
	// defaultArg is the index of the default among a flagenv binding's
	// arguments (pointer, [shift,] name, env, default, usage).
	defaultArg := map[string]int{
		"String": 3, "Secret": 3, "Strings": 3, "Int": 3, "Int64": 3, "Bool": 3,
		"Duration": 3, "Float64": 3, "Shifted": 4,
	}
	var files []string
	for _, dir := range []string{".", "../roles"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && dir == "." && path != "." {
				return filepath.SkipDir
			}
			name := d.Name()
			if !d.IsDir() && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") && !strings.HasPrefix(name, "bench") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	fset := token.NewFileSet()
	bindings := 0
	for _, path := range files {
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			i, ok := defaultArg[sel.Sel.Name]
			if !ok || len(call.Args) != i+2 {
				return true
			}
			env, ok := call.Args[i-1].(*ast.BasicLit)
			if !ok || env.Kind != token.STRING {
				return true // not a flagenv binding
			}
			bindings++
			if lit := literalIn(call.Args[i]); lit != "" {
				t.Errorf("%s: flag %s has the literal default %s; take it from the DefaultConfig of the settings it binds",
					fset.Position(call.Pos()), exprString(call.Args[i-2]), lit)
			}
			return true
		})
	}
	if bindings < 50 {
		t.Fatalf("found only %d flag bindings in cmd/ and roles/: the check no longer sees them", bindings)
	}
}

// literalIn returns the first literal in e ("" if none): a basic or
// composite literal, nil, true or false.
func literalIn(e ast.Expr) string {
	var lit string
	ast.Inspect(e, func(n ast.Node) bool {
		if lit != "" {
			return false
		}
		switch n := n.(type) {
		case *ast.BasicLit:
			lit = n.Value
		case *ast.CompositeLit:
			lit = "a composite literal"
		case *ast.Ident:
			if n.Name == "nil" || n.Name == "true" || n.Name == "false" {
				lit = n.Name
			}
		}
		return true
	})
	return lit
}

func exprString(e ast.Expr) string {
	if b, ok := e.(*ast.BasicLit); ok {
		return b.Value
	}
	return "?"
}

// TestListenHosts checks who listens where by default: app all (open until
// the first key exists) on loopback only, the split roles (containers) on
// every interface.
func TestListenHosts(t *testing.T) {
	t.Parallel()
	root := NewRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	for _, tc := range []struct{ cmd, want string }{
		{"all", "127.0.0.1"},
		{"gateway", "0.0.0.0"}, {"queue", "0.0.0.0"}, {"worker", "0.0.0.0"},
		{"executor", "0.0.0.0"}, {"storage", "0.0.0.0"},
	} {
		c, _, err := root.Find([]string{tc.cmd})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.LocalFlags().Lookup("host").DefValue; got != tc.want {
			t.Errorf("app %s --host defaults to %q, want %q", tc.cmd, got, tc.want)
		}
	}
}
