// The output pane: a terminal-like log of what a run printed (stdout plain,
// stderr red, execbox's own notes dim) that, during an interactive run,
// takes keystrokes as the program's stdin. There is no pseudo-terminal on
// the other side, so the pane does what a terminal's line discipline would:
// it echoes the line being typed, sends it on Enter, Ctrl+D closes stdin
// (or sends a partial line), Ctrl+C sends SIGINT.

// maxChars bounds what the pane keeps; past it the oldest output goes (the
// final result, with its caps, is still complete in the API).
const maxChars = 1 << 20;

export class Terminal {
  // el is the pane (focusable); handlers get the typed input:
  // onLine(text) for a line or partial line, onEOF(), onInterrupt().
  constructor(el, handlers) {
    this.el = el;
    this.handlers = handlers;
    this.chars = 0;
    this.interactive = false;
    this.pending = "";
    this.lastStream = "";
    this.body = document.createElement("div");
    this.body.className = "term-body";
    this.inputLine = document.createElement("span");
    this.inputLine.className = "term-input";
    this.cursor = document.createElement("span");
    this.cursor.className = "term-cursor";
    this.cursor.textContent = " ";
    el.append(this.body, this.inputLine, this.cursor);
    el.addEventListener("keydown", (e) => this.onKey(e));
    el.addEventListener("paste", (e) => {
      if (!this.interactive) return;
      e.preventDefault();
      this.type((e.clipboardData || window.clipboardData).getData("text"));
    });
    this.setInteractive(false);
  }

  clear() {
    this.body.textContent = "";
    this.chars = 0;
    this.pending = "";
    this.lastStream = "";
    this.inputLine.textContent = "";
  }

  // write appends text of a kind: "stdout", "stderr", "stdin" (echo of what
  // was typed) or "note" (execbox's own lines).
  write(kind, text) {
    if (!text) return;
    const last = this.body.lastChild;
    if (last && last.dataset.kind === kind) {
      last.textContent += text;
    } else {
      const span = document.createElement("span");
      span.className = "t-" + kind;
      span.dataset.kind = kind;
      span.textContent = text;
      this.body.append(span);
    }
    if (kind === "stdout" || kind === "stderr") this.lastStream = text;
    this.chars += text.length;
    while (this.chars > maxChars && this.body.firstChild) {
      this.chars -= this.body.firstChild.textContent.length;
      this.body.firstChild.remove();
    }
    this.el.scrollTop = this.el.scrollHeight;
  }

  // note writes a line of execbox's own, on a line of its own.
  note(text) {
    const t = this.body.textContent;
    this.write("note", (t && !t.endsWith("\n") ? "\n" : "") + text + "\n");
  }

  text() {
    return this.body.textContent;
  }

  setInteractive(on) {
    this.interactive = on;
    this.el.classList.toggle("interactive", on);
    this.el.setAttribute("aria-label", on
      ? "Program output; type here: Enter sends a line to stdin, Ctrl+D closes stdin, Ctrl+C interrupts"
      : "Program output");
    if (!on) {
      this.pending = "";
      this.inputLine.textContent = "";
    }
  }

  type(text) {
    const parts = text.replace(/\r\n?/g, "\n").split("\n");
    for (let i = 0; i < parts.length - 1; i++) this.sendLine(this.pending + parts[i] + "\n");
    this.pending += parts[parts.length - 1];
    this.inputLine.textContent = this.pending;
  }

  sendLine(line) {
    this.pending = "";
    this.inputLine.textContent = "";
    this.write("stdin", line);
    this.handlers.onLine(line);
  }

  onKey(e) {
    if (!this.interactive || e.metaKey || e.altKey) return;
    if (e.ctrlKey) {
      const k = e.key.toLowerCase();
      if (k === "d") {
        e.preventDefault();
        if (this.pending) this.sendLine(this.pending);
        else this.handlers.onEOF();
      } else if (k === "c" && !window.getSelection().toString()) {
        e.preventDefault();
        this.write("stdin", "^C\n");
        this.handlers.onInterrupt();
      }
      return;
    }
    if (e.key === "Enter") {
      e.preventDefault();
      this.sendLine(this.pending + "\n");
    } else if (e.key === "Backspace") {
      e.preventDefault();
      this.pending = this.pending.slice(0, -1);
      this.inputLine.textContent = this.pending;
    } else if (e.key === "Tab") {
      e.preventDefault();
      this.type("\t");
    } else if ([...e.key].length === 1) {
      e.preventDefault();
      this.type(e.key);
    }
  }
}
