// Running programs against the gateway this page came from: batch runs
// (POST /v1/submissions, then the submission's Server-Sent Events with its
// output events) and interactive runs (the WebSocket /v1/runs/ws).

// ApiError is a refused request: status, the RFC 9457 problem (title,
// detail, errors naming each field) or the WebSocket error message.
export class ApiError extends Error {
  constructor(status, problem) {
    const fields = (problem.errors || []).map((e) => `${e.field}: ${e.message}`);
    super([problem.title || problem.code || `HTTP ${status}`, problem.detail, ...fields].filter(Boolean).join("\n"));
    this.status = status;
    this.problem = problem;
  }
}

export const finalStatus = (s) => s && s !== "queued" && s !== "running";

async function problemOf(resp) {
  try {
    return await resp.json();
  } catch {
    return { title: `${resp.status} ${resp.statusText}` };
  }
}

// parseSSE reads a text/event-stream body and calls onEvent(name, data) for
// each event; it returns when the stream ends.
async function parseSSE(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let m;
    while ((m = /\r?\n\r?\n/.exec(buf))) {
      const block = buf.slice(0, m.index);
      buf = buf.slice(m.index + m[0].length);
      let name = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(":")) continue;
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        if (field === "event") name = val;
        else if (field === "data") data.push(val);
      }
      if (data.length) onEvent(name, data.join("\n"));
    }
  }
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
});

// runBatch submits body and follows the submission until it is final:
// on.id(id) once accepted, on.output({seq, step, test, stream, data}) per
// output event, on.gap({dropped_bytes}), on.status(submission) and, last,
// on.result(submission). A stream that ends early (a proxy, a restart)
// falls back to polling GET /v1/submissions/{id}.
export async function runBatch({ body, headers, signal, on }) {
  const resp = await fetch("/v1/submissions", { method: "POST", headers, body: JSON.stringify(body), signal });
  if (!resp.ok) throw new ApiError(resp.status, await problemOf(resp));
  const { id } = await resp.json();
  on.id(id);
  const url = "/v1/submissions/" + encodeURIComponent(id);
  let final = null;
  try {
    const ev = await fetch(url + "/events", { headers: { ...headers, Accept: "text/event-stream" }, signal });
    if (!ev.ok) throw new ApiError(ev.status, await problemOf(ev));
    await parseSSE(ev.body, (name, data) => {
      let v;
      try { v = JSON.parse(data); } catch { return; }
      switch (name) {
        case "output": on.output(v); break;
        case "output_gap": on.gap(v); break;
        case "status": on.status(v); break;
        case "result": final = v; break;
      }
    });
  } catch (e) {
    if (signal?.aborted) throw e;
    if (e instanceof ApiError && e.status !== 404) throw e;
  }
  while (!final && !signal?.aborted) {
    const r = await fetch(url, { headers, signal });
    if (!r.ok) throw new ApiError(r.status, await problemOf(r));
    const s = await r.json();
    if (finalStatus(s.status)) final = s;
    else { on.status(s); await sleep(400, signal); }
  }
  if (final) on.result(final);
  return final;
}

// cancel asks the gateway to cancel a batch submission.
export async function cancel(id, headers) {
  await fetch("/v1/submissions/" + encodeURIComponent(id), { method: "DELETE", headers });
}

// closeReasons name the WebSocket close codes of /v1/runs/ws.
const closeReasons = {
  1000: "session ended", 1006: "connection lost", 1011: "server error",
  4000: "invalid request", 4001: "no start message in time", 4003: "unauthorized",
  4013: "server busy", 4029: "rate limited",
};

// runInteractive opens /v1/runs/ws and starts the program: start is the
// "start" message's fields, apiKey goes in it when set. on.started(msg),
// on.stage(stage), on.output({stream, data}), on.result(submission),
// on.error(ApiError), on.closed(code, text). The returned session sends
// stdin(text), eof(), signal(name) and close().
export function runInteractive({ start, apiKey, on }) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/v1/runs/ws`);
  let done = false;
  let opened = false;
  const send = (m) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); };
  ws.onopen = () => {
    opened = true;
    send({ type: "start", ...start, ...(apiKey ? { api_key: apiKey } : {}) });
  };
  ws.onmessage = (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch { return; }
    switch (m.type) {
      case "started": on.started(m); break;
      case "stage": on.stage(m.stage); break;
      case "output": on.output(m); break;
      case "result": done = true; on.result(m.result); break;
      case "error": done = true; on.error(new ApiError(0, { title: m.code, detail: m.detail, errors: m.errors })); break;
    }
  };
  ws.onclose = (e) => {
    if (!opened) on.closed(e.code, "cannot open the WebSocket /v1/runs/ws (does this server have interactive runs?)");
    else on.closed(e.code, done ? "" : (e.reason || closeReasons[e.code] || `closed (${e.code})`));
  };
  return {
    stdin: (data) => send({ type: "stdin", data }),
    eof: () => send({ type: "stdin_close" }),
    signal: (signal) => send({ type: "signal", signal }),
    close: () => ws.close(1000),
  };
}
