// Drives the npm piston-client, unmodified, against an execbox gateway:
// node piston_client.mjs CLIENT_DIR BASE_URL CASES_JSON. Prints
// {"runtimes": [...], "results": [{"case": name, "answer": ...}, ...]}.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [clientDir, base, casesFile] = process.argv.slice(2);
const mod = await import(pathToFileURL(join(clientDir, "node_modules", "piston-client", "index.js")).href);
const client = mod.default({ server: base });
const runtimes = await client.runtimes();
const cases = JSON.parse(readFileSync(casesFile, "utf8"));
const results = [];
for (const c of cases) {
  const answer = c.code !== undefined
    ? await client.execute(c.language, c.code, c.config)
    : await client.execute(c.config);
  results.push({ case: c.name, answer });
}
process.stdout.write(JSON.stringify({ runtimes, results }));
