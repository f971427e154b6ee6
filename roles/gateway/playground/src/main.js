// The /docs page: the playground (a CodeMirror editor, batch and
// interactive runs streamed into a terminal-like pane, test cases with
// per-case verdicts, shareable links) and the API reference.
import { EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection, highlightSpecialChars } from "@codemirror/view";
import { EditorState, Compartment } from "@codemirror/state";
import { syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching, indentUnit } from "@codemirror/language";
import { history, historyKeymap, defaultKeymap, indentWithTab } from "@codemirror/commands";
import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";

import { languageSupport, example } from "./languages.js";
import { Terminal } from "./terminal.js";
import { runBatch, runInteractive, cancel, finalStatus } from "./runner.js";
import { shareFragment, readFragment } from "./share.js";
import { el, loadReference } from "./reference.js";

const $ = (id) => document.getElementById(id);
const keyStore = "execbox.apiKey"; // sessionStorage: this tab only, never in links
const draftStore = "execbox.draft"; // localStorage: the last language and source

let languages = []; // GET /v1/languages, or a fallback
let session = null; // the run in progress: {kind, id, stop()}

// ---------------------------------------------------------------------------
// Editor

const langConf = new Compartment();
const view = new EditorView({
  parent: $("editor"),
  state: EditorState.create({
    doc: "",
    extensions: [
      lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(), drawSelection(),
      indentOnInput(), bracketMatching(), closeBrackets(), highlightActiveLine(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, indentWithTab]),
      EditorView.contentAttributes.of({ "aria-label": "Source code" }),
      EditorView.updateListener.of((u) => {
        if (!u.docChanged) return;
        saveDraft();
        $("share-link").style.display = "none"; // the link shown is of the old source
      }),
      langConf.of([]),
    ],
  }),
});

const source = () => view.state.doc.toString();
function setSource(text) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}

// ---------------------------------------------------------------------------
// Languages

function headers() {
  const h = { "Content-Type": "application/json" };
  const k = $("key").value.trim();
  if (k) h.Authorization = "Bearer " + k;
  return h;
}

const current = () => languages[Number($("lang").value)] || languages[0];

function applyLanguage() {
  const l = current();
  if (!l) return;
  // Four spaces a level (PEP 8 and most style guides), tabs for Go (gofmt).
  const unit = l.id === "go" ? "\t" : "    ";
  view.dispatch({ effects: langConf.reconfigure([languageSupport(l.id, l.aliases), indentUnit.of(unit)]) });
  $("file").textContent = l.source_file || "";
}

async function loadLanguages(want) {
  const sel = $("lang");
  const keep = want || (current() && current().id) || "python";
  let list = null;
  try {
    const resp = await fetch("/v1/languages", { headers: headers() });
    if (resp.ok) {
      list = (await resp.json()).languages;
      if (!session && $("verdict").dataset.verdict === "error") setVerdict("", "ready");
    } else if (resp.status === 401 || resp.status === 403) {
      setVerdict("error", $("key").value.trim() ? "this API key is refused" : "API key needed: enter it above");
    }
  } catch {
    // offline or the gateway is down: keep what there is
  }
  languages = list && list.length ? list : (languages.length ? languages : [{ id: "python", name: "Python", version: "", source_file: "main.py" }]);
  sel.textContent = "";
  languages.forEach((l, i) => sel.append(el("option", { value: String(i) }, `${l.name} ${l.version}`.trim())));
  selectLanguage(keep);
}

function selectLanguage(id) {
  let i = languages.findIndex((l) => l.id === id);
  if (i < 0) i = languages.findIndex((l) => (l.aliases || []).includes(id));
  if (i < 0) i = Math.max(0, languages.findIndex((l) => l.id === "python"));
  $("lang").value = String(i);
  applyLanguage();
}

$("lang").addEventListener("change", () => {
  const before = source();
  const wasExample = !before.trim() || languages.some((l) => example(l.id) === before);
  applyLanguage();
  if (wasExample) setSource(example(current().id));
  saveDraft();
});

// ---------------------------------------------------------------------------
// Stdin and test cases

function selectTab(which) {
  for (const t of ["stdin", "tests"]) {
    $("tab-" + t).setAttribute("aria-selected", String(t === which));
    $("pane-" + t).hidden = t !== which;
  }
}
$("tab-stdin").onclick = () => selectTab("stdin");
$("tab-tests").onclick = () => selectTab("tests");

function countTests() {
  const n = $("tests").children.length;
  $("test-count").textContent = n ? `(${n})` : "";
}

function addTest(stdin = "", expected = "") {
  const box = el("div", { class: "case" });
  const verdict = el("span", { class: "verdict", "data-role": "verdict" }, "not run");
  const detail = el("span", { class: "detail", "data-role": "detail" });
  const remove = el("button", { title: "Remove this test case" }, "Remove");
  remove.onclick = () => { box.remove(); renumber(); };
  const input = el("textarea", { rows: "3", spellcheck: "false", "data-role": "stdin" });
  const want = el("textarea", { rows: "3", spellcheck: "false", "data-role": "expected" });
  input.value = stdin;
  want.value = expected;
  box.append(
    el("div", { class: "head" }, el("b", { "data-role": "title" }), verdict, detail, el("span", { style: "flex:1" }), remove),
    el("div", { class: "cols" }, el("label", {}, "stdin", input), el("label", {}, "expected output", want)),
  );
  $("tests").append(box);
  renumber();
  return box;
}

function renumber() {
  [...$("tests").children].forEach((box, i) => {
    box.querySelector("[data-role=title]").textContent = `Test ${i + 1}`;
  });
  countTests();
}

$("add-test").onclick = () => addTest().querySelector("textarea").focus();

function readTests() {
  return [...$("tests").children].map((box) => ({
    stdin: box.querySelector("[data-role=stdin]").value,
    expected_output: box.querySelector("[data-role=expected]").value,
  }));
}

// ---------------------------------------------------------------------------
// Output pane and verdicts

const term = new Terminal($("term"), { onLine() {}, onEOF() {}, onInterrupt() {} });

function setVerdict(verdict, text) {
  const v = $("verdict");
  v.className = "verdict " + verdict;
  v.dataset.verdict = verdict;
  v.textContent = text || verdict.replace(/_/g, " ");
}

const fmtMs = (ms) => (ms >= 1000 ? (ms / 1000).toFixed(2) + " s" : Math.round(ms) + " ms");
const fmtKB = (kb) => (kb >= 1024 ? (kb / 1024).toFixed(1) + " MiB" : kb + " KiB");

function metric(label, value) {
  return el("span", { class: "metric" }, label + " ", el("b", {}, value));
}

function stepMetrics(step, prefix = "") {
  const parts = [
    metric(prefix + "time", fmtMs(step.wall_time_ms || 0)),
    metric("cpu", fmtMs(step.cpu_time_ms || 0)),
    metric("memory", fmtKB(step.memory_kb || 0)),
  ];
  if (step.signal) parts.push(metric("signal", step.signal));
  else parts.push(metric("exit", String(step.exit_code ?? "")));
  if (step.limit_exceeded) parts.push(metric("limit", step.limit_exceeded));
  return parts;
}

function decodeOutput(o) {
  if (!o || !o.text) return "";
  if (o.encoding !== "base64") return o.text;
  const bytes = Uint8Array.from(atob(o.text), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

// writeResultOutput shows a result's captured output, for a server that
// streamed none (or a run that ended before the stream was opened).
function writeResultOutput(res, multi) {
  if (res.compile && (res.compile.stdout?.text || res.compile.stderr?.text)) {
    term.note("compile");
    term.write("stdout", decodeOutput(res.compile.stdout));
    term.write("stderr", decodeOutput(res.compile.stderr));
  }
  const runs = res.tests && res.tests.length ? res.tests : res.run ? [res.run] : [];
  runs.forEach((s, i) => {
    if (multi) term.note(`test ${i + 1}`);
    term.write("stdout", decodeOutput(s.stdout));
    term.write("stderr", decodeOutput(s.stderr));
  });
}

// showResult shows a final submission: the verdict, time, memory and exit
// of the run (the slowest and largest of its test cases), and each case's
// own verdict.
function showResult(sub, withTests) {
  const res = sub && sub.result && typeof sub.result === "object" ? sub.result : sub || {};
  const status = sub.status || res.status || "internal_error";
  setVerdict(status);
  const m = $("metrics");
  m.textContent = "";
  m.className = "";
  const runs = res.tests && res.tests.length ? res.tests : res.run ? [res.run] : [];
  if (runs.length) {
    const agg = { ...runs[0] };
    for (const s of runs) {
      agg.wall_time_ms = Math.max(agg.wall_time_ms || 0, s.wall_time_ms || 0);
      agg.cpu_time_ms = Math.max(agg.cpu_time_ms || 0, s.cpu_time_ms || 0);
      agg.memory_kb = Math.max(agg.memory_kb || 0, s.memory_kb || 0);
      if (s.verdict !== "accepted" && agg.verdict === "accepted") Object.assign(agg, { exit_code: s.exit_code, signal: s.signal, limit_exceeded: s.limit_exceeded, verdict: s.verdict });
    }
    m.append(...stepMetrics(agg));
  }
  if (res.compile) m.append(metric("compile", fmtMs(res.compile.wall_time_ms || 0)));
  if (res.message) m.append(el("span", { class: "metric" }, res.message));
  if (status === "compilation_error" && res.compile && !term.text().trim()) writeResultOutput(res, false);
  if (withTests) {
    const boxes = [...$("tests").children];
    boxes.forEach((box, i) => {
      const s = (res.tests || [])[i];
      const v = box.querySelector("[data-role=verdict]");
      const d = box.querySelector("[data-role=detail]");
      if (!s) {
        v.className = "verdict";
        v.textContent = status === "compilation_error" ? "not run" : "no result";
        d.textContent = "";
        return;
      }
      v.className = "verdict " + s.verdict;
      v.dataset.verdict = s.verdict;
      v.textContent = s.verdict.replace(/_/g, " ");
      d.textContent = `${fmtMs(s.wall_time_ms || 0)}, ${fmtKB(s.memory_kb || 0)}` + (s.verdict === "wrong_answer" ? `, got ${JSON.stringify(decodeOutput(s.stdout).slice(0, 80))}` : "");
    });
  }
}

function showError(e) {
  setVerdict("error", "error");
  $("metrics").textContent = "";
  term.note(String(e.message || e));
}

function resetTestVerdicts(state) {
  for (const box of $("tests").children) {
    const v = box.querySelector("[data-role=verdict]");
    v.className = "verdict";
    v.textContent = state;
    box.querySelector("[data-role=detail]").textContent = "";
  }
}

// ---------------------------------------------------------------------------
// Runs

function busy(on) {
  $("run").disabled = on;
  $("run-interactive").disabled = on;
  $("stop").disabled = !on;
}

function startRequest() {
  const l = current();
  const req = { language: l.id, files: [{ name: l.source_file || "", content: source() }] };
  if (l.version) req.version = l.version;
  return req;
}

async function runBatchNow() {
  if (session) return;
  const body = startRequest();
  const tests = readTests();
  if (tests.length) body.tests = tests;
  else if ($("stdin").value) body.stdin = $("stdin").value;
  const multi = tests.length > 1;
  term.clear();
  term.setInteractive(false);
  $("metrics").textContent = "";
  setVerdict("queued");
  resetTestVerdicts(tests.length ? "queued" : "");
  const ctl = new AbortController();
  session = { kind: "batch", id: null, stop() { ctl.abort(); if (this.id) cancel(this.id, headers()).catch(() => {}); } };
  busy(true);
  let streamed = false;
  let where = "";
  try {
    await runBatch({
      body, headers: headers(), signal: ctl.signal,
      on: {
        id(id) { session.id = id; },
        output(ev) {
          streamed = true;
          const here = ev.step === "compile" ? "compile" : multi ? `test ${ev.test + 1}` : "";
          if (here !== where) {
            if (here) term.note(here);
            where = here;
          }
          term.write(ev.stream === "stderr" ? "stderr" : "stdout", ev.data);
        },
        gap(ev) { term.note(`[${ev.dropped_bytes} bytes of output were dropped on the way]`); },
        status(s) { if (!finalStatus(s.status)) setVerdict(s.status); },
        result(s) {
          if (!streamed && s.result) writeResultOutput(s.result, multi);
          showResult(s, tests.length > 0);
        },
      },
    });
  } catch (e) {
    if (ctl.signal.aborted) {
      setVerdict("canceled");
      term.note("stopped");
    } else showError(e);
  } finally {
    session = null;
    busy(false);
  }
}

function runInteractiveNow() {
  if (session) return;
  term.clear();
  $("metrics").textContent = "";
  setVerdict("queued", "connecting");
  busy(true);
  let ended = false;
  const finish = () => {
    if (ended) return;
    ended = true;
    term.setInteractive(false);
    session = null;
    busy(false);
  };
  const ws = runInteractive({
    start: startRequest(),
    apiKey: $("key").value.trim(),
    on: {
      started(m) {
        session.id = m.id;
        setVerdict("running");
        term.setInteractive(true);
        term.el.focus();
      },
      stage(stage) { if (stage === "compile") term.note("compiling ..."); else setVerdict("running"); },
      output(m) { term.write(m.stream === "stderr" ? "stderr" : "stdout", m.data); },
      result(sub) { showResult(sub, false); },
      error(e) { showError(e); },
      closed(code, text) {
        if (text) {
          term.note(text);
          if ($("verdict").dataset.verdict !== "error") setVerdict("error", "error");
        }
        finish();
      },
    },
  });
  term.handlers = {
    onLine: (line) => ws.stdin(line),
    onEOF: () => { ws.eof(); term.note("[stdin closed]"); },
    onInterrupt: () => ws.signal("SIGINT"),
  };
  session = {
    kind: "interactive", id: null,
    stop() {
      ws.signal("SIGKILL");
      // A server that does not answer the signal: leave anyway.
      setTimeout(() => { if (!ended) { ws.close(); finish(); } }, 3000);
    },
  };
}

$("run").onclick = runBatchNow;
$("run-interactive").onclick = runInteractiveNow;
$("stop").onclick = () => session && session.stop();

// Ctrl+Enter runs, Ctrl+Shift+Enter runs interactively, from anywhere on
// the page (caught before the editor, whose Ctrl+Enter inserts a line).
document.addEventListener("keydown", (e) => {
  if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey) || e.altKey) return;
  e.preventDefault();
  e.stopPropagation();
  if (e.shiftKey) runInteractiveNow();
  else runBatchNow();
}, true);

// ---------------------------------------------------------------------------
// API key, drafts and shareable links

$("key").value = sessionStorage.getItem(keyStore) || "";
$("key").addEventListener("change", () => {
  sessionStorage.setItem(keyStore, $("key").value.trim());
  loadLanguages();
});

function saveDraft() {
  const l = current();
  if (!l) return;
  try {
    localStorage.setItem(draftStore, JSON.stringify({ lang: l.id, src: source() }));
  } catch {
    // storage full or disabled: drafts are a convenience
  }
}

function readDraft() {
  try {
    return JSON.parse(localStorage.getItem(draftStore) || "null");
  } catch {
    return null;
  }
}

$("share").onclick = async () => {
  const link = location.href.replace(/#.*$/, "") + shareFragment(current().id, source());
  window.history.replaceState(null, "", link);
  const box = $("share-link");
  box.value = link;
  box.style.display = "block";
  box.select();
  try {
    await navigator.clipboard.writeText(link);
    $("share").textContent = "Link copied";
  } catch {
    $("share").textContent = "Link below";
  }
  setTimeout(() => { $("share").textContent = "Share link"; }, 2000);
};

function restore(shared) {
  if (shared) {
    selectLanguage(shared.lang);
    setSource(shared.src);
    return;
  }
  const d = readDraft();
  if (d && d.src) {
    selectLanguage(d.lang);
    setSource(d.src);
  } else {
    setSource(example(current().id));
  }
}

window.addEventListener("hashchange", () => {
  const shared = readFragment(location.hash);
  if (shared) restore(shared);
});

// ---------------------------------------------------------------------------
// Start

async function boot() {
  const shared = readFragment(location.hash);
  await loadLanguages(shared ? shared.lang : (readDraft() || {}).lang);
  restore(shared);
  document.body.dataset.ready = "true";
}

boot();
loadReference($("ops"), $("info")).catch((e) => {
  $("ops").textContent = "cannot load /openapi.json: " + e;
});
