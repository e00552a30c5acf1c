/**
 * Dashboard page render times with a big fleet in SQLite: 1,000 nodes and 100,000 reports (8
 * resources each, some drifted, some failed) written through the storage layer, then each page
 * rendered server-side through `inject()` (routing, session check, queries, HTML). Prints figures;
 * never passes or fails on time.
 *
 *   node --import tsx bench/ui.ts [--nodes 1000] [--reports 100000] [--runs 30]
 *
 * With `--search`, the fleet search at 10,000 nodes × 1,000 resources instead (bench/ui-search.ts).
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Report, ResourceReport } from "../core/types.js";
import { buildApp } from "../server/app.js";
import { coreCompiler } from "../server/compiler.js";
import { loadConfig } from "../server/config.js";
import { hashSecret, newSecret } from "../server/identity.js";
import { loadSigningKey } from "../server/signing.js";
import { openSqlite } from "../server/storage/sqlite.js";

if (process.argv.includes("--search")) {
  await import("./ui-search.js");
  process.exit(0);
}

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "1000" },
    reports: { type: "string", default: "100000" },
    runs: { type: "string", default: "30" },
  },
});
const nodes = Number(values.nodes);
const reports = Number(values.reports);
const runs = Number(values.runs);

const dir = mkdtempSync(join(tmpdir(), "tend-bench-ui-"));
const storage = await openSqlite(join(dir, "tend.db"));
const names = Array.from(
  { length: nodes },
  (_, i) => `${i % 3 === 0 ? "db" : "web"}-${String(i).padStart(4, "0")}`,
);
const commits = Array.from({ length: 20 }, (_, i) => `${i.toString(16).padStart(2, "0")}${"ab".repeat(19)}`);
const t0 = Date.now();

for (const [i, sha] of commits.entries()) {
  await storage.recordCommit({
    sha,
    valid: i % 7 !== 3,
    problems: i % 7 === 3 ? [{ code: "TEND_E_YAML", message: "bad", file: "web/recipe.yaml", line: 3 }] : [],
    seen_at: t0 - (20 - i) * 3_600_000,
    summary: `commit ${i}`,
  });
}
await storage.setLiveCommit(commits[19] ?? "");
for (const name of names) {
  const hash = `bench-${name}`;
  await storage.createToken({
    hash,
    kind: "enroll",
    created_at: t0,
    expires_at: null,
    uses_left: 1,
    node_glob: null,
    reenroll: false,
  });
  await storage.enroll({
    tokenHash: hash,
    node: name,
    credentialHash: `cred-${name}`,
    now: t0,
    allowSupersede: false,
  });
}

const perNode = Math.ceil(reports / nodes);
function report(node: string, n: number, k: number): Report {
  const drifting = k % 11 === 0 || (k % 5 === 0 && n > perNode - 3);
  const failing = k % 17 === 0 && n === perNode - 1;
  const resources: ResourceReport[] = Array.from({ length: 8 }, (_, r) => {
    const drifted = drifting && r < 2;
    const failed = failing && r === 7;
    return {
      id: r < 4 ? `file:/etc/app/conf-${r}.conf` : `package:pkg-${r}`,
      type: r < 4 ? "file" : "package",
      status: failed ? "failed" : drifted ? "changed" : "unchanged",
      drifted,
      changes: drifted ? [{ property: "content", from: "sha256:aa", to: "sha256:bb" }] : [],
      diff: drifted ? "--- a\n+++ b\n@@ -1 +1 @@\n-listen 80\n+listen 8080\n" : null,
      error: failed ? "apt-get install failed: E: Unable to locate package" : null,
      duration_ms: 3.2,
    };
  });
  const changed = resources.filter((r) => r.status === "changed").length;
  const failed = resources.filter((r) => r.status === "failed").length;
  return {
    format: 1,
    id: randomUUID(),
    node,
    commit: commits[Math.min(19, Math.floor((n / perNode) * 20))] ?? null,
    mode: "apply",
    status: failed ? "failed" : changed ? "changed" : "unchanged",
    started_at: new Date(t0 - (perNode - n) * 1_800_000 + k * 1000).toISOString(),
    duration_ms: 900,
    catalog_source: "server",
    catalog_age_s: 0,
    summary: { total: 8, changed, drifted: changed, failed, skipped: 0, unchanged: 8 - changed - failed },
    resources,
  };
}
let written = 0;
for (let n = 0; n < perNode && written < reports; n++) {
  const batch: Promise<unknown>[] = [];
  for (const [k, name] of names.entries()) {
    if (written >= reports) break;
    batch.push(storage.saveReport(report(name, n, k), t0));
    written++;
  }
  await Promise.all(batch);
}
const fillS = (Date.now() - t0) / 1000;
const dbMiB = statSync(join(dir, "tend.db")).size / 2 ** 20;

const dataDir = join(dir, "data");
mkdirSync(dataDir);
const config = loadConfig(undefined, { data_dir: dataDir });
const { app } = await buildApp({
  config,
  storage,
  key: loadSigningKey(dataDir),
  compiler: await coreCompiler(),
});
const admin = newSecret("admin");
await storage.createToken({
  hash: hashSecret(admin),
  kind: "admin",
  created_at: t0,
  expires_at: null,
  uses_left: null,
  node_glob: null,
  reenroll: false,
});
const loginPage = await app.inject({ url: "/ui/login" });
const loginCookie = String([loginPage.headers["set-cookie"]].flat()[0]).split(";")[0];
const csrf = /name="_csrf" value="([^"]+)"/.exec(loginPage.body)?.[1] ?? "";
const login = await app.inject({
  method: "POST",
  url: "/ui/login",
  headers: { "content-type": "application/x-www-form-urlencoded", cookie: loginCookie },
  payload: new URLSearchParams({ _csrf: csrf, token: admin }).toString(),
});
const session = [login.headers["set-cookie"]]
  .flat()
  .map(String)
  .find((c) => c.startsWith("tend_session="))
  ?.split(";")[0];
if (!session) throw new Error(`login failed: ${login.statusCode}`);

const someNode = names[1] ?? "";
const nodeReports = await storage.nodeReports(someNode, 1);
const pages: [string, string][] = [
  ["fleet, first page", "/ui/"],
  ["fleet, page 10", "/ui/?page=10"],
  ["fleet, sorted by drift", "/ui/?sort=drifted&dir=desc"],
  ["fleet, drifted only", "/ui/?drifted=1"],
  ["fleet, failed only", "/ui/?status=failed"],
  ["fleet, name search", "/ui/?q=web-00"],
  ["fleet, search", `/ui/?where=${encodeURIComponent("file:/etc/app/conf-0.conf drifted and not failing")}`],
  ["timeline, 24 hours", "/ui/timeline"],
  ["node", `/ui/nodes/${someNode}`],
  ["node, older reports", `/ui/nodes/${someNode}?page=3`],
  ["report", `/ui/reports/${nodeReports[0]?.id}`],
  ["drift", "/ui/drift"],
  ["commits", "/ui/commits"],
];
console.log(
  `tend dashboard bench: ${nodes} nodes, ${written} reports (${written * 8} resource rows), SQLite ${dbMiB.toFixed(0)} MiB, filled in ${fillS.toFixed(0)} s; ${runs} renders per page after 2 warm-ups`,
);
console.log("| page | p50 ms | p95 ms | max ms | HTML KiB |");
console.log("|---|---:|---:|---:|---:|");
for (const [label, url] of pages) {
  const times: number[] = [];
  let size = 0;
  for (let i = 0; i < runs + 2; i++) {
    const start = process.hrtime.bigint();
    const res = await app.inject({ url, headers: { cookie: session } });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
    size = res.body.length;
    if (i >= 2) times.push(ms);
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0;
  console.log(
    `| ${label} | ${q(0.5).toFixed(1)} | ${q(0.95).toFixed(1)} | ${(times.at(-1) ?? 0).toFixed(1)} | ${(size / 1024).toFixed(0)} |`,
  );
}
await app.close();
await storage.close();
rmSync(dir, { recursive: true, force: true });
