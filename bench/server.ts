/**
 * Server benchmark (issue 5): `tend server` as a real process on 127.0.0.1 (random port), loaded
 * from a separate process (bench/server-load.ts, undici, closed loop over keep-alive connections):
 * catalog requests per second for a 200-resource catalog served from the compile cache, fresh
 * (200) and unchanged (304, If-None-Match), and reports per second (50 resources, a new id each),
 * on SQLite and on PostgreSQL, with p50/p99 latency and the server's RSS. Prints; never asserts.
 *
 *   node --import tsx bench/server.ts [--duration 10] [--warmup 2] [--connections 16] [--nodes 32]
 *     [--pg postgres://postgres@127.0.0.1:5432/test] [--only sqlite|postgres] [--profile DIR]
 *     [--loads catalog,catalog-304,reports]
 *
 * PostgreSQL is used when --pg or TEND_TEST_DATABASE_URL names it (tables in a fresh schema,
 * dropped afterwards). The whole run is bounded: a watchdog stops everything after 15 minutes.
 * "CPU ms/req" is the server process's CPU time (user + system) per request answered during the
 * load: unlike req/s it does not depend on what else the machine is doing. --profile DIR writes
 * the server's V8 CPU profiles there.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import pg from "pg";
import { request } from "undici";
import { sampleFacts } from "../test/helpers/facts.js";
import { TestRepo } from "../test/helpers/server-git.js";
import { generateRepo } from "./gen-repo.js";
import type { LoadResult, LoadSpec } from "./server-load.js";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "16" },
    nodes: { type: "string", default: "32" },
    pg: { type: "string" },
    only: { type: "string" },
    profile: { type: "string" },
    loads: { type: "string", default: "catalog,catalog-304,reports" },
  },
});
const durationS = Number(values.duration);
const warmupS = Number(values.warmup);
const connections = Number(values.connections);
const nodeCount = Number(values.nodes);
const pgUrl = values.pg ?? process.env.TEND_TEST_DATABASE_URL;
const catalogResources = 200;
const reportResources = 50;
let catalogBytes = 0;

const serverEntry = fileURLToPath(new URL("../test/helpers/server-main.ts", import.meta.url));
const loadEntry = fileURLToPath(new URL("./server-load.ts", import.meta.url));
const run = promisify(execFile);
const children = new Set<ChildProcess>();

const watchdog = setTimeout(() => {
  process.stderr.write("bench/server: the 15-minute limit passed; stopping\n");
  for (const c of children) c.kill("SIGKILL");
  process.exit(1);
}, 15 * 60_000);
watchdog.unref();

function tend(args: string[]): Promise<string> {
  return run(process.execPath, ["--import", "tsx", serverEntry, ...args]).then((r) => r.stdout.trim());
}

interface Server {
  child: ChildProcess;
  url: string;
}

function startServer(config: string): Promise<Server> {
  const profile = values.profile ? ["--cpu-prof", "--cpu-prof-dir", values.profile] : [];
  const child = spawn(process.execPath, [...profile, "--import", "tsx", serverEntry, "--config", config], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  let err = "";
  child.stderr?.on("data", (c: Buffer) => {
    err = (err + c.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the server did not start in 60 s: ${err}`)), 60_000);
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.once("exit", (code) => reject(new Error(`the server exited with ${code}: ${err}`)));
  });
}

/** SIGTERM, then SIGKILL after 10 s; only the server this bench started. */
function stopServer(s: Server): Promise<void> {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
    const kill = setTimeout(() => s.child.kill("SIGKILL"), 10_000);
    s.child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    s.child.kill("SIGTERM");
  });
}

/** User + system CPU seconds of a process so far (from /proc, clock ticks of 1/100 s). */
function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * User + system CPU seconds of the local PostgreSQL processes (every process named `postgres` this
 * user can see): the database's share of a request when it runs on the same machine. Backends that
 * exit during a load are missed; the server's pool keeps its connections open, so few do.
 */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (!stat.includes("(postgres)")) continue;
      const f = stat.split(") ")[1]?.split(" ") ?? [];
      total += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

function rssMiB(pid: number | undefined): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

async function post(url: string, body: unknown, token?: string) {
  const res = await request(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function load(spec: LoadSpec, dir: string): Promise<LoadResult> {
  const file = join(dir, `load-${spec.mode}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", loadEntry, file],
      { maxBuffer: 1 << 20, timeout: (spec.warmupS + spec.durationS + 60) * 1000 },
      (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout) as LoadResult)),
    );
    children.add(child);
    child.once("exit", () => children.delete(child));
  });
}

interface Row extends LoadResult {
  database: string;
  rssMiB: number;
  cpuMsPerReq: number;
  /** The local PostgreSQL processes' CPU time per request (PostgreSQL only; NaN when not local). */
  dbCpuMsPerReq: number;
  /** The machine's 1-minute load average when this load ended. */
  load1: number;
}

async function benchOne(database: "sqlite" | "postgres", repo: string): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), `tend-bench-server-${database}-`));
  const schema = `tend_bench_${randomBytes(4).toString("hex")}`;
  const config = join(dir, "server.yaml");
  const db = database === "sqlite" ? "database: sqlite" : `database: ${pgUrl}\ndatabase_schema: ${schema}`;
  writeFileSync(
    config,
    `listen: 127.0.0.1:0\ndata_dir: ${dir}/data\n${db}\nlog_level: warn\n` +
      `recipes:\n  repo: ${repo}\n  branch: main\n  poll: 0\n` +
      "limits:\n  enroll_burst: 100000\n  enroll_per_minute: 1000000\n",
  );
  let server: Server | undefined;
  try {
    const token = await tend(["token", "create", "--uses", String(nodeCount), "--config", config]);
    server = await startServer(config);
    const facts = sampleFacts({ hostname: "bench" }) as unknown as Record<string, unknown>;
    const nodes: LoadSpec["nodes"] = [];
    for (let i = 0; i < nodeCount; i++) {
      const node = `bench-${i}`;
      const r = await post(`${server.url}/api/v1/enroll`, { token, node });
      if (r.status !== 200) throw new Error(`enrolment failed: ${r.status} ${JSON.stringify(r.json)}`);
      nodes.push({ node, credential: String(r.json.credential) });
      // The first catalog compiles; the load then measures serving from the compile cache.
      const c = await post(`${server.url}/api/v1/catalog`, { facts }, String(r.json.credential));
      const resources = (c.json.catalog as { resources?: unknown[] } | undefined)?.resources?.length;
      if (i === 0) catalogBytes = JSON.stringify(c.json).length;
      if (c.status !== 200 || resources !== catalogResources) {
        throw new Error(`the catalog is not the expected one: ${c.status}, ${resources} resources`);
      }
    }
    const rows: Row[] = [];
    for (const mode of String(values.loads).split(",") as LoadSpec["mode"][]) {
      const spec: LoadSpec = {
        url: server.url,
        mode,
        connections,
        warmupS,
        durationS,
        nodes,
        facts,
        resources: reportResources,
      };
      const cpu0 = cpuSeconds(server.child.pid);
      const db0 = database === "postgres" ? postgresCpuSeconds() : 0;
      const result = await load(spec, dir);
      const cpuMsPerReq = ((cpuSeconds(server.child.pid) - cpu0) * 1000) / result.total;
      const dbCpu = database === "postgres" ? postgresCpuSeconds() - db0 : Number.NaN;
      const dbCpuMsPerReq = dbCpu > 0 ? (dbCpu * 1000) / result.total : Number.NaN;
      if (process.env.TEND_BENCH_DEBUG) {
        const f = readFileSync(`/proc/${server.child.pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
        process.stdout.write(`  ${mode}: utime ${f[11]} stime ${f[12]} total ${result.total}\n`);
      }
      rows.push({
        ...result,
        database,
        rssMiB: rssMiB(server.child.pid).rss,
        cpuMsPerReq,
        dbCpuMsPerReq,
        load1: loadavg()[0] ?? 0,
      });
    }
    const peak = rssMiB(server.child.pid).hwm;
    process.stdout.write(`  ${database}: server peak RSS ${peak.toFixed(0)} MiB\n`);
    return rows;
  } finally {
    if (server) await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
    if (database === "postgres") {
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  }
}

const targets: Record<string, string> = {
  catalog: ">= 1000/s",
  "catalog-304": ">= 3000/s",
  reports: ">= 1000/s",
};

const repo = new TestRepo();
generateRepo(repo.dir, catalogResources);
repo.git("add", "-A");
repo.git("commit", "-q", "-m", "bench recipes");
process.stdout.write(
  `tend server bench (load average at the start: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}): ${catalogResources}-resource catalogs, ${reportResources}-resource reports, ` +
    `${connections} connections, ${nodeCount} nodes, ${warmupS} s warm-up + ${durationS} s per load\n`,
);
const databases: ("sqlite" | "postgres")[] = [];
if (values.only !== "postgres") databases.push("sqlite");
if (values.only !== "sqlite") {
  if (pgUrl) databases.push("postgres");
  else process.stdout.write("  (PostgreSQL skipped: give --pg URL or set TEND_TEST_DATABASE_URL)\n");
}
const rows: Row[] = [];
try {
  for (const d of databases) rows.push(...(await benchOne(d, repo.dir)));
  process.stdout.write(`  a catalog is ${(catalogBytes / 1024).toFixed(0)} KiB of JSON\n`);
} finally {
  repo.cleanup();
}
const cols = [
  "database",
  "load",
  "req/s",
  "p50 ms",
  "p99 ms",
  "max ms",
  "statuses",
  "errors",
  "CPU ms/req",
  "DB CPU ms/req",
  "load gen CPU ms/req",
  "RSS MiB",
  "load",
  "target",
];
const table = rows.map((r) => [
  r.database,
  r.mode,
  r.rps.toFixed(0),
  r.p50.toFixed(2),
  r.p99.toFixed(2),
  r.max.toFixed(1),
  Object.entries(r.statuses)
    .map(([k, v]) => `${k}:${v}`)
    .join(" "),
  String(r.errors),
  r.cpuMsPerReq.toFixed(3),
  Number.isNaN(r.dbCpuMsPerReq) ? "-" : r.dbCpuMsPerReq.toFixed(3),
  ((r.clientCpuS * 1000) / r.total).toFixed(3),
  r.rssMiB.toFixed(0),
  r.load1.toFixed(1),
  `${targets[r.mode]}, p99 < 50 ms`,
]);
const widths = cols.map((c, i) => Math.max(c.length, ...table.map((row) => (row[i] ?? "").length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
process.stdout.write(`${line(cols)}\n${table.map(line).join("\n")}\n`);
process.stdout.write(
  `  load average at the end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} (other work on the machine lowers req/s; CPU ms/req is the steadier figure)\n`,
);
for (const r of rows) if (r.firstError) process.stdout.write(`  ${r.database} ${r.mode}: ${r.firstError}\n`);
