package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium returns Debian's chromium, which scripts/testenv.sh installs
// (EXECBOX_TEST_CHROMIUM names it). Missing, it is a failure, not a skip.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EXECBOX_TEST_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is needed for the browser test (scripts/testenv.sh installs it with apt)")
	}
	return p
}

// artifactsDir is where tests keep what a person should look at after a
// run (screenshots): $EXECBOX_ARTIFACTS, which scripts/testenv.sh sets to
// /var/lib/execbox-test/artifacts.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("EXECBOX_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "execbox-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts a headless chromium with the flags ENVIRONMENT.md gives
// (no network of its own beyond what the page asks for) and returns a tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTime := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Every uncaught exception of the page fails the test.
	var mu sync.Mutex
	var thrown []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			mu.Lock()
			thrown = append(thrown, msg)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range thrown {
			t.Errorf("the page threw: %s", m)
		}
	})
	return ctx
}

// pane is what the playground shows: the output pane's text and the
// verdict badge's value.
type pane struct {
	Term    string `json:"term"`
	Verdict string `json:"verdict"`
	Metrics string `json:"metrics"`
}

func readPane(ctx context.Context) (pane, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[pane](`({term: document.getElementById("term").innerText,
		verdict: document.getElementById("verdict").dataset.verdict,
		metrics: document.getElementById("metrics").innerText})`))
}

var finalVerdicts = map[string]bool{"accepted": true, "wrong_answer": true, "time_limit_exceeded": true,
	"memory_limit_exceeded": true, "output_limit_exceeded": true, "compilation_error": true,
	"runtime_error": true, "internal_error": true, "canceled": true, "error": true}

// waitPane polls the page until done says the pane is what the test waits
// for, calling seen on every state on the way; it fails after a minute.
func waitPane(t *testing.T, ctx context.Context, what string, done func(pane) bool, seen func(pane)) pane {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		p, err := readPane(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if seen != nil {
			seen(p)
		}
		if done(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: the page shows verdict %q, output %q", what, p.Verdict, p.Term)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pressEnter presses Enter as a keyboard does: one keydown that carries the
// text. (chromedp's KeyEvent sends a separate char event, which types a
// second line break where the page handled the keydown itself, as the
// editor does.)
func pressEnter() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter",
			WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r"}
		if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := down
		up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		_, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, up)
		return err
	})
}

// typeInto focuses the element sel and types text into it key by key.
func typeInto(sel, text string) chromedp.Action[chromedp.Void] {
	steps := []chromedp.Action[chromedp.Void]{chromedp.Focus(chromedp.CSS(sel))}
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			steps = append(steps, pressEnter())
		}
		if line != "" {
			steps = append(steps, chromedp.KeyEvent(line))
		}
	}
	return chromedp.Steps(steps...)
}

// typeProgram replaces the editor's content by typing src into it, key by
// key, as a person would (the editor indents after a colon by itself, so
// src has no leading indentation of its own).
func typeProgram(t *testing.T, ctx context.Context, src, want string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(".cm-content")),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent("\b"),
		typeInto(".cm-content", src),
	)
	if err != nil {
		t.Fatalf("type the program: %v", err)
	}
	got := editorText(t, ctx)
	if strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Fatalf("the editor holds\n%s\nwant\n%s", got, want)
	}
}

// editorText is the editor's content, line by line as it shows them.
func editorText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll(".cm-line"), (l) => l.textContent).join("\n")`))
	if err != nil {
		t.Fatalf("read the editor: %v", err)
	}
	return s
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artifactsDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestPlaygroundInBrowser drives /docs in Debian's headless chromium against
// `app all` with the real executor: it types a program into the editor,
// runs it with Ctrl+Enter and sees its output stream into the pane before
// the verdict, time and memory; runs test cases and sees each case's
// verdict; types stdin into an interactive run and sees each line answered,
// closes stdin with Ctrl+D, interrupts another run with Ctrl+C; and keeps
// screenshots in $EXECBOX_ARTIFACTS.
func TestPlaygroundInBrowser(t *testing.T) {
	base := startAllEmbedded(t)
	ctx := browser(t)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#ops details.op`)), // the API reference rendered
	); err != nil {
		t.Fatalf("load /docs: %v", err)
	}
	if file, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#file"))); err != nil || file != "main.py" {
		t.Fatalf("the playground starts on %q (%v), want Python's main.py", file, err)
	}

	t.Run("batch", func(t *testing.T) {
		src := "import sys, time\nprint(\"tick 0\", flush=True)\ntime.sleep(2)\nprint(\"tick 1:\", sys.stdin.read().strip())\n"
		typeProgram(t, ctx, src, src)
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#stdin"), "from stdin"),
			chromedp.Click(chromedp.CSS(".cm-content")),
			chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierCtrl)), // Ctrl+Enter runs
		); err != nil {
			t.Fatal(err)
		}
		sawStreamed := false
		p := waitPane(t, ctx, "the batch run's verdict", func(p pane) bool { return finalVerdicts[p.Verdict] },
			func(p pane) {
				if !finalVerdicts[p.Verdict] && strings.Contains(p.Term, "tick 0") {
					sawStreamed = true
				}
			})
		if p.Verdict != "accepted" || !strings.Contains(p.Term, "tick 0\ntick 1: from stdin") {
			t.Fatalf("verdict %q, output %q", p.Verdict, p.Term)
		}
		for _, want := range []string{"time", "cpu", "memory", "exit 0"} {
			if !strings.Contains(p.Metrics, want) {
				t.Errorf("the status line %q lacks %s", p.Metrics, want)
			}
		}
		if !sawStreamed {
			t.Error("the page showed no streamed output before the verdict")
		}
		screenshot(t, ctx, "playground-batch.png")
	})

	t.Run("tests", func(t *testing.T) {
		src := "a = input()\nprint(a * 2)\n"
		typeProgram(t, ctx, src, src)
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS("#tab-tests")),
			chromedp.Click(chromedp.CSS("#add-test")),
			chromedp.Click(chromedp.CSS("#add-test")),
			chromedp.SendKeys(chromedp.CSS(`#tests .case:nth-child(1) [data-role=stdin]`), "ab"),
			chromedp.SendKeys(chromedp.CSS(`#tests .case:nth-child(1) [data-role=expected]`), "abab"),
			chromedp.SendKeys(chromedp.CSS(`#tests .case:nth-child(2) [data-role=stdin]`), "x"),
			chromedp.SendKeys(chromedp.CSS(`#tests .case:nth-child(2) [data-role=expected]`), "not xx"),
			chromedp.Click(chromedp.CSS("#run")),
		); err != nil {
			t.Fatal(err)
		}
		p := waitPane(t, ctx, "the test run's verdict", func(p pane) bool { return finalVerdicts[p.Verdict] }, nil)
		if p.Verdict != "wrong_answer" {
			t.Fatalf("verdict %q, want wrong_answer (the second case expects something else); output %q", p.Verdict, p.Term)
		}
		cases, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#tests [data-role=verdict]"), (v) => v.dataset.verdict || v.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		if len(cases) != 2 || cases[0] != "accepted" || cases[1] != "wrong_answer" {
			t.Fatalf("per-case verdicts %q, want [accepted wrong_answer]", cases)
		}
		screenshot(t, ctx, "playground-tests.png")
		// Back to plain stdin for the next runs.
		if err := chromedp.Do(ctx,
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := chromedp.Evaluate[any](`document.querySelectorAll("#tests .case button").forEach((b) => b.click())`)(ctx, tg)
				return err
			}),
			chromedp.Click(chromedp.CSS("#tab-stdin")),
		); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("share", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#share"))); err != nil {
			t.Fatal(err)
		}
		link, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("share-link").value`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(link, "#lang=python&src=") {
			t.Fatalf("share link %q", link)
		}
		// A fresh tab (no draft of its own would matter: the link wins)
		// restores the language and the source.
		tab, cancel := chromedp.NewContext(ctx)
		defer cancel()
		if err := chromedp.Do(tab,
			chromedp.Navigate(link),
			chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`)),
		); err != nil {
			t.Fatal(err)
		}
		got := editorText(t, tab)
		if got != "a = input()\nprint(a * 2)\n" && got != "a = input()\nprint(a * 2)" {
			t.Fatalf("the shared link restored %q", got)
		}
	})

	t.Run("stop", func(t *testing.T) {
		src := "import time\ntime.sleep(120)\n"
		typeProgram(t, ctx, src, src)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#run"))); err != nil {
			t.Fatal(err)
		}
		waitPane(t, ctx, "the run to be running", func(p pane) bool {
			if finalVerdicts[p.Verdict] {
				t.Fatalf("a two-minute program ended at once: %q, output %q", p.Verdict, p.Term)
			}
			return p.Verdict == "running"
		}, nil)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#stop"))); err != nil {
			t.Fatal(err)
		}
		waitPane(t, ctx, "the stopped run", func(p pane) bool { return p.Verdict == "canceled" }, nil)
		enabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("run").disabled && document.getElementById("stop").disabled`))
		if err != nil || !enabled {
			t.Fatalf("after Stop, Run is not enabled again (%v)", err)
		}
		// The page canceled the submission on the server too (DELETE), so
		// the sandbox does not sleep on.
		deadline := time.Now().Add(time.Minute)
		for {
			code, list := call(t, "GET", base+"/v1/submissions?status=canceled", nil)
			if items, _ := list["items"].([]any); code == http.StatusOK && len(items) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no canceled submission on the server after Stop: %d %v", code, list)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("interactive", func(t *testing.T) {
		src := "import sys\nprint(\"ready\", flush=True)\nfor line in sys.stdin:\nprint(\"echo:\", line.strip(), flush=True)"
		want := "import sys\nprint(\"ready\", flush=True)\nfor line in sys.stdin:\n    print(\"echo:\", line.strip(), flush=True)"
		typeProgram(t, ctx, src, want)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#run-interactive"))); err != nil {
			t.Fatal(err)
		}
		waitPane(t, ctx, "the interactive run to start", func(p pane) bool {
			return p.Verdict == "running" && strings.Contains(p.Term, "ready")
		}, nil)
		for _, word := range []string{"hello", "world"} {
			if err := chromedp.Do(ctx, typeInto("#term", word+"\n")); err != nil {
				t.Fatal(err)
			}
			waitPane(t, ctx, "the answer to "+word, func(p pane) bool {
				if finalVerdicts[p.Verdict] {
					t.Fatalf("the run ended (%s) before answering %s: %q", p.Verdict, word, p.Term)
				}
				return strings.Contains(p.Term, "echo: "+word)
			}, nil)
		}
		screenshot(t, ctx, "playground-interactive.png")
		if err := chromedp.Do(ctx, chromedp.KeyEvent("d", chromedp.KeyModifiers(chromedp.ModifierCtrl))); err != nil {
			t.Fatal(err)
		}
		p := waitPane(t, ctx, "the end after Ctrl+D", func(p pane) bool { return finalVerdicts[p.Verdict] }, nil)
		if p.Verdict != "accepted" {
			t.Fatalf("verdict %q after stdin closed, output %q", p.Verdict, p.Term)
		}
		if !strings.Contains(p.Metrics, "memory") {
			t.Errorf("the status line %q shows no memory", p.Metrics)
		}

		// Ctrl+C sends SIGINT: Python ends with KeyboardInterrupt.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#run-interactive"))); err != nil {
			t.Fatal(err)
		}
		waitPane(t, ctx, "the second interactive run to start", func(p pane) bool {
			return p.Verdict == "running" && strings.Contains(p.Term, "ready")
		}, nil)
		if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("#term")),
			chromedp.KeyEvent("c", chromedp.KeyModifiers(chromedp.ModifierCtrl))); err != nil {
			t.Fatal(err)
		}
		p = waitPane(t, ctx, "the end after Ctrl+C", func(p pane) bool { return finalVerdicts[p.Verdict] }, nil)
		if p.Verdict != "runtime_error" || !strings.Contains(p.Term, "KeyboardInterrupt") {
			t.Fatalf("verdict %q after SIGINT, output %q", p.Verdict, p.Term)
		}
		screenshot(t, ctx, "playground-interrupted.png")
	})
}

// TestPlaygroundAPIKey: against a gateway that requires a key, the page
// says so, and once the key is typed into its field it lists the languages
// and runs with it.
func TestPlaygroundAPIKey(t *testing.T) {
	const key = "playground-e2e-key"
	base := startAllEmbedded(t, "--api-keys", key)
	ctx := browser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`)),
	); err != nil {
		t.Fatalf("load /docs: %v", err)
	}
	p, err := readPane(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Verdict != "error" {
		t.Fatalf("without a key the page shows %q, want the key error", p.Verdict)
	}
	if err := chromedp.Do(ctx, typeInto("#key", key), chromedp.KeyEvent("\t")); err != nil {
		t.Fatal(err)
	}
	waitPane(t, ctx, "the languages to load with the key", func(p pane) bool { return p.Verdict == "" }, nil)
	src := "print(\"keyed run\")\n"
	typeProgram(t, ctx, src, src)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#run"))); err != nil {
		t.Fatal(err)
	}
	p = waitPane(t, ctx, "the run's verdict", func(p pane) bool { return finalVerdicts[p.Verdict] }, nil)
	if p.Verdict != "accepted" || !strings.Contains(p.Term, "keyed run") {
		t.Fatalf("verdict %q, output %q", p.Verdict, p.Term)
	}
	// A browser cannot set headers on a WebSocket: the key goes in the
	// start message, and the run starts.
	src = "print(input())\n"
	typeProgram(t, ctx, src, src)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#run-interactive"))); err != nil {
		t.Fatal(err)
	}
	waitPane(t, ctx, "the keyed interactive run to start", func(p pane) bool {
		if finalVerdicts[p.Verdict] {
			t.Fatalf("the interactive run ended at once: %q, output %q", p.Verdict, p.Term)
		}
		return p.Verdict == "running"
	}, nil)
	if err := chromedp.Do(ctx, typeInto("#term", "typed with a key\n")); err != nil {
		t.Fatal(err)
	}
	p = waitPane(t, ctx, "the keyed interactive run's verdict", func(p pane) bool { return finalVerdicts[p.Verdict] }, nil)
	if p.Verdict != "accepted" || strings.Count(p.Term, "typed with a key") != 2 {
		t.Fatalf("verdict %q, output %q (want the typed line echoed and printed)", p.Verdict, p.Term)
	}
}
