// Drives the npm piston-client, unmodified, against an execbox gateway:
// node piston_client.mjs CLIENT_DIR BASE_URL CASES_JSON [PARALLEL]. Runs
// PARALLEL cases at once (default 1) and prints
// {"runtimes": [...], "results": [{"case": name, "answer": ...}, ...]}
// with the results in the cases' order.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [clientDir, base, casesFile, parallel = "1"] = process.argv.slice(2);
const mod = await import(pathToFileURL(join(clientDir, "node_modules", "piston-client", "index.js")).href);
const client = mod.default({ server: base });
const runtimes = await client.runtimes();
const cases = JSON.parse(readFileSync(casesFile, "utf8"));
const results = new Array(cases.length);
let next = 0;
async function worker() {
  while (next < cases.length) {
    const i = next++;
    const c = cases[i];
    const answer = c.code !== undefined
      ? await client.execute(c.language, c.code, c.config)
      : await client.execute(c.config);
    results[i] = { case: c.name, answer };
  }
}
await Promise.all(Array.from({ length: Math.max(1, Number(parallel)) }, worker));
process.stdout.write(JSON.stringify({ runtimes, results }));
