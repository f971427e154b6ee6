// The API reference half of /docs, rendered from /openapi.json.

export function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids) if (k !== undefined && k !== null) e.append(k);
  return e;
}

function resolve(spec, s) {
  if (s && s.$ref) return spec.components.schemas[s.$ref.split("/").pop()];
  return s;
}

function schemaTable(spec, s, depth) {
  s = resolve(spec, s);
  if (!s || !s.properties || depth > 2) return el("code", {}, JSON.stringify(s || {}));
  const t = el("table");
  const req = new Set(s.required || []);
  for (const [name, p] of Object.entries(s.properties)) {
    const r = resolve(spec, p) || {};
    let type = r.type || (p.$ref ? p.$ref.split("/").pop() : "any");
    if (r.type === "array") {
      const it = r.items || {};
      type = "array of " + (it.$ref ? it.$ref.split("/").pop() : it.type);
    }
    t.append(el("tr", {}, el("td", {}, el("code", {}, name + (req.has(name) ? "*" : ""))),
      el("td", {}, type), el("td", { class: "muted" }, (p.description || "") + (p.enum ? " [" + p.enum.join(", ") + "]" : ""))));
  }
  return t;
}

// loadReference fills ops with every operation of /openapi.json, grouped
// by tag, and info with the server's version.
export async function loadReference(ops, info) {
  const spec = await (await fetch("/openapi.json")).json();
  info.textContent = "version " + spec.info.version;
  ops.textContent = "";
  const byTag = {};
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      (byTag[op.tags[0]] = byTag[op.tags[0]] || []).push([path, method.toUpperCase(), op]);
    }
  }
  for (const tag of Object.keys(byTag).sort()) {
    ops.append(el("h3", {}, tag));
    for (const [path, method, op] of byTag[tag].sort()) {
      const body = el("div", { class: "body" });
      if (op.parameters) {
        const t = el("table");
        for (const p of op.parameters) t.append(el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in), el("td", { class: "muted" }, p.description || "")));
        body.append(el("h4", {}, "Parameters"), t);
      }
      if (op.requestBody) body.append(el("h4", {}, "Request body"), schemaTable(spec, op.requestBody.content["application/json"].schema, 0));
      for (const [code, r] of Object.entries(op.responses)) {
        if (code === "default") continue;
        const c = r.content && Object.values(r.content)[0];
        body.append(el("h4", {}, "Response " + code), c && c.schema && c.schema.$ref ? schemaTable(spec, c.schema, 0) : el("span", { class: "muted" }, r.description));
      }
      ops.append(el("details", { class: "op" }, el("summary", {}, el("span", { class: "m " + method }, method), " ", el("code", {}, path), " ", el("span", { class: "muted" }, op.summary)), body));
    }
  }
}
