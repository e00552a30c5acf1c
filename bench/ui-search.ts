/**
 * Fleet search times at scale, on SQLite and on PostgreSQL: 10,000 nodes whose latest reports
 * hold 1,000 resource rows each (10 million rows: the worst case, a first deploy, where every
 * resource changed; most runs keep none), facts saved through the storage layer (so node_facts is
 * written by the real code), then each search run as the fleet page runs it (count + first 50) and
 * as the API and CLI run it (every match). Also the unindexed alternative for a fact (JSON read
 * per node), which node_facts replaces; and the fleet timeline over a day of runs. Prints figures;
 * never passes or fails on time.
 *
 *   node --import tsx bench/ui.ts --search [--db sqlite|postgres|both] [--nodes 10000] [--resources 1000] [--runs 20]
 *
 * PostgreSQL: TEND_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), in a
 * schema of its own, dropped after.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import type { Facts } from "../core/types.js";
import { searchNodes, staleCut } from "../server/search/run.js";
import type { Driver } from "../server/storage/driver.js";
import { openPostgres } from "../server/storage/postgres.js";
import type { SqlStorage } from "../server/storage/sql.js";
import { openSqlite } from "../server/storage/sqlite.js";

const { values } = parseArgs({
  options: {
    search: { type: "boolean" },
    db: { type: "string", default: "both" },
    nodes: { type: "string", default: "10000" },
    resources: { type: "string", default: "1000" },
    runs: { type: "string", default: "20" },
  },
});
const nodes = Number(values.nodes);
const resources = Number(values.resources);
const runs = Number(values.runs);
const pgUrl = process.env.TEND_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
const now = Date.parse("2030-06-01T12:00:00.000Z");
const live = "aa".repeat(20);
const old = "bb".repeat(20);

/** The driver under the storage: the bench fills tables with set-based SQL, not row by row. */
const driverOf = (s: SqlStorage) => (s as unknown as { db: Driver }).db;
/** 0 .. n-1 as a subquery, in SQL both databases read. */
const seq = (n: number, col: string) =>
  `(WITH RECURSIVE c(${col}) AS (SELECT 0 UNION ALL SELECT ${col} + 1 FROM c WHERE ${col} < ${n - 1}) SELECT ${col} FROM c)`;

async function fill(s: SqlStorage): Promise<void> {
  const db = driverOf(s);
  const recent = new Date(now - 600_000).toISOString();
  const stale = new Date(now - 86_400_000).toISOString();
  await db.query(
    `INSERT INTO nodes (name, credential_hash, enrolled_at, last_seen, last_report_id, last_report_at, last_status, last_commit)
     SELECT 'node-' || i, 'cred-' || i, 0, $1, 'r-' || i,
       CASE WHEN i % 50 = 0 THEN $2 ELSE $3 END,
       CASE WHEN i % 17 = 0 THEN 'failed' WHEN i % 5 = 0 THEN 'changed' ELSE 'unchanged' END,
       CASE WHEN i % 10 = 0 THEN $4 ELSE $5 END
     FROM ${seq(nodes, "i")} x`,
    [now, stale, recent, old, live],
  );
  await db.query(
    `INSERT INTO reports (id, node, commit_sha, mode, status, started_at, duration_ms, received_at, body)
     SELECT n.last_report_id, n.name, n.last_commit, 'apply', n.last_status, n.last_report_at, 900, $1, '{}'
     FROM nodes n`,
    [now],
  );
  // Resource j of node i: package:nginx (j = 0) fails on every 13th node, the nginx config (j = 1)
  // drifted on every 7th; the others changed, a few failed or drifted.
  await db.query(
    `INSERT INTO report_resources (report_id, node, resource, type, status, drifted, changes)
     SELECT 'r-' || i, 'node-' || i,
       CASE WHEN j = 0 THEN 'package:nginx' WHEN j = 1 THEN 'file:/etc/nginx/nginx.conf'
            WHEN j < 500 THEN 'package:pkg-' || j ELSE 'file:/etc/app/conf-' || j END,
       CASE WHEN j = 0 OR (j > 1 AND j < 500) THEN 'package' ELSE 'file' END,
       CASE WHEN j = 0 AND i % 13 = 0 THEN 'failed' WHEN j > 1 AND (i * 7 + j) % 997 = 0 THEN 'failed'
            ELSE 'changed' END,
       CASE WHEN j = 1 AND i % 7 = 0 THEN 1 WHEN j > 1 AND (i + j) % 1009 = 0 THEN 1 ELSE 0 END,
       '[]'
     FROM ${seq(nodes, "i")} a CROSS JOIN ${seq(resources, "j")} b`,
  );
  // Facts through the storage layer: the real writer of node_facts.
  const versions = ["11", "12", "12", "13"];
  // Four at a time: the PostgreSQL pool's size (a fifth would wait for a connection).
  for (let i = 0; i < nodes; i += 4) {
    await Promise.all(
      Array.from({ length: Math.min(4, nodes - i) }, (_, k) => {
        const n = i + k;
        const facts: Facts = {
          hostname: `node-${n}`,
          fqdn: `node-${n}.example.com`,
          os: {
            id: "debian",
            version_id: versions[n % 4] as string,
            family: "debian",
            name: "Debian GNU/Linux",
          },
          arch: n % 3 === 0 ? "aarch64" : "x86_64",
          kernel: `6.1.0-${n % 30}-amd64`,
          cpus: [2, 4, 8, 16][n % 4] as number,
          memory_mb: [2048, 7936, 16000, 64000][n % 4] as number,
          ipv4: [`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`],
          role: ["web", "db", "cache", "queue", "batch"][n % 5] as string,
          datacenter: `dc-${n % 9}`,
        };
        return s.saveFacts(`node-${n}`, facts, now);
      }),
    );
  }
  await db.query("ANALYZE");
}

const searches = [
  "os.version_id = 12",
  "package:nginx failed",
  "file:/etc/nginx/nginx.conf drifted",
  "commit != live",
  "stale",
  "os.version_id = 12 and package:nginx failed",
  "role = web and memory_mb >= 8000 and not failing",
  "file:/etc/nginx/* drifted or (commit != live and not stale)",
  "package:pkg-4* failed",
  "ipv4 = 10.0.39.16",
  "name ~ node-12*",
  "datacenter = dc-3 and drifted",
];

/**
 * Wall-clock p50 / p95, and this process's CPU time per run: on SQLite (in this process) that is
 * the query's own work, which a busy machine's load average does not inflate.
 */
async function time(fn: () => Promise<unknown>): Promise<{ p50: number; p95: number; cpu: number }> {
  const times: number[] = [];
  let cpu = 0;
  for (let i = 0; i < runs + 2; i++) {
    const start = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    if (i >= 2) {
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
      cpu += (c.user + c.system) / 1000;
    }
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0;
  return { p50: q(0.5), p95: q(0.95), cpu: cpu / runs };
}

async function bench(name: string, s: SqlStorage): Promise<void> {
  const t0 = Date.now();
  await s.setLiveCommit(live);
  await fill(s);
  const fillS = (Date.now() - t0) / 1000;
  const stale = staleCut(now, 1_800_000);
  console.log(
    `\n${name}: ${nodes} nodes × ${resources} resource rows in their latest reports (${nodes * resources} rows), filled in ${fillS.toFixed(0)} s; ${runs} runs each after 2 warm-ups; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  const cpuCol = s.kind === "sqlite";
  console.log(
    `| search | matches | page (count + 50) p50 / p95 ms | all matches p50 / p95 ms |${cpuCol ? " page / all, CPU ms |" : ""}`,
  );
  console.log(`|---|---:|---:|---:|${cpuCol ? "---:|" : ""}`);
  for (const q of searches) {
    const total = (await searchNodes(s, q, stale, 50)).total;
    const page = await time(() => searchNodes(s, q, stale, 50));
    const all = await time(() => searchNodes(s, q, stale));
    console.log(
      `| \`${q}\` | ${total} | ${page.p50.toFixed(1)} / ${page.p95.toFixed(1)} | ${all.p50.toFixed(1)} / ${all.p95.toFixed(1)} |${cpuCol ? ` ${page.cpu.toFixed(1)} / ${all.cpu.toFixed(1)} |` : ""}`,
    );
  }
  await timeline(s);
  const db = driverOf(s);
  const json =
    db.kind === "sqlite"
      ? "SELECT COUNT(*) AS n FROM nodes WHERE json_extract(facts, '$.os.version_id') = '12'"
      : "SELECT COUNT(*) AS n FROM nodes WHERE facts::jsonb #>> '{os,version_id}' = '12'";
  const side = "SELECT COUNT(*) AS n FROM node_facts WHERE path = 'os.version_id' AND value = '12'";
  const j = await time(() => db.query(json));
  const f = await time(() => db.query(side));
  console.log(
    `\nos.version_id = 12, the count alone: facts JSON read per node ${j.p50.toFixed(1)} / ${j.p95.toFixed(1)} ms; node_facts index ${f.p50.toFixed(1)} / ${f.p95.toFixed(1)} ms (p50 / p95); load average now ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
}

/**
 * The fleet timeline with a day of runs: every node every 30 minutes (480,000 reports at 10,000
 * nodes; 1 in 20 repaired drift, 1 in 30 failed): counted cold (every hour from reports), then warm
 * (settled hours read from fleet_hours, the newest counted live), for each window.
 */
async function timeline(s: SqlStorage): Promise<void> {
  const db = driverOf(s);
  const t0 = Date.now();
  await db.query(
    `INSERT INTO reports (id, node, commit_sha, mode, status, started_at, duration_ms, received_at, body)
     SELECT 'h-' || i || '-' || k, 'node-' || i, $1, 'apply',
       CASE WHEN (i + k) % 30 = 0 THEN 'failed' WHEN (i + k) % 20 = 0 THEN 'changed' ELSE 'unchanged' END,
       '2030-06-01T00:00:00.000Z', 900, $2 - k * 1800000 - (i % 1800) * 1000, '{}'
     FROM ${seq(nodes, "i")} a CROSS JOIN ${seq(48, "k")} b`,
    [live, now],
  );
  await db.query(
    `INSERT INTO report_resources (report_id, node, resource, type, status, drifted, changes)
     SELECT r.id, r.node, 'file:/etc/motd', 'file', 'changed', 1, '[]' FROM reports r
     WHERE r.id LIKE 'h-%' AND r.status = 'changed'`,
  );
  await db.query("ANALYZE");
  console.log(
    `\ntimeline: ${nodes * 48} more reports over 24 hours, filled in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
  console.log("| window | buckets | cold ms (first ask) | warm p50 / p95 ms |");
  console.log("|---|---:|---:|---:|");
  for (const [name, ms, size] of [
    ["1h", 3_600_000, 300_000],
    ["24h", 86_400_000, 3_600_000],
    ["7d", 7 * 86_400_000, 3_600_000],
    ["30d", 30 * 86_400_000, 3_600_000],
  ] as const) {
    const c0 = process.hrtime.bigint();
    const buckets = await s.ui.timeline(ms, size, now);
    const cold = Number(process.hrtime.bigint() - c0) / 1e6;
    const warm = await time(() => s.ui.timeline(ms, size, now));
    console.log(
      `| ${name} | ${buckets.length} | ${cold.toFixed(1)} | ${warm.p50.toFixed(1)} / ${warm.p95.toFixed(1)} |`,
    );
  }
}

if (values.db === "sqlite" || values.db === "both") {
  const dir = mkdtempSync(join(tmpdir(), "tend-bench-search-"));
  const s = await openSqlite(join(dir, "tend.db"));
  try {
    await bench("SQLite", s);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
if (values.db === "postgres" || values.db === "both") {
  const schema = `tend_bench_${randomBytes(4).toString("hex")}`;
  const drop = async () => {
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  };
  // Interrupted, it still drops its schema (the fill holds a few GB).
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.once(sig, () => void drop().finally(() => process.exit(130)));
  const s = await openPostgres({ url: pgUrl, schema, max: 4 });
  try {
    await bench("PostgreSQL", s);
  } finally {
    await s.close();
    await drop();
  }
}
