/**
 * Alerts benchmark (issue 10): `tend server` as a real process on 127.0.0.1 with three sinks —
 * PagerDuty, Slack and a signed webhook — pointed at loopback receivers in this process that check
 * every request against the service's documented format (test/helpers/alert-receivers.ts).
 *
 * 1. Latency at steady state: failing reports of distinct nodes, 10 a second; for each, the time
 *    from sending the report to the receiver getting its trigger (the 200 goes back at once), p50
 *    and p99 per sink. Rate limits are lifted for this phase (`max_per_minute`), so no storm forms.
 * 2. A storm: N nodes (10,000) failing at once, as a bad commit would; every report sent as fast as
 *    64 connections go, with the sinks' default limits (PagerDuty 100/min, Slack 50/min). Prints how
 *    long ingest took, how long until the outbox was empty (every event sent or coalesced), the
 *    outbox's throughput, and what each sink got: pages one by one, storm pages, any condition
 *    paged twice.
 *
 *   node --import tsx bench/alerts.ts [--nodes 10000] [--latency 300] [--only sqlite|postgres]
 *     [--pg postgres://postgres@127.0.0.1:5432/test]
 *
 * Targets: p99 ≤ 1 s at steady state; a 10,000-node storm drained in ≤ 30 s with one page per
 * condition per sink. Prints figures; never asserts them.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { Agent, request } from "undici";
import type { Report } from "../core/types.js";
import {
  pagerDutyReceiver,
  type Receiver,
  slackReceiver,
  webhookReceiver,
} from "../test/helpers/alert-receivers.js";
import { alertsConfig, hookSecret } from "../test/helpers/alert-server.js";
import { goodRecipes, TestRepo } from "../test/helpers/server-git.js";
import { type ServerProcess, spawnServer, stop, tendServer } from "../test/helpers/server-process.js";
import { makeReport } from "../test/helpers/server-report.js";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "10000" },
    latency: { type: "string", default: "300" },
    only: { type: "string" },
    pg: { type: "string" },
  },
});
const stormNodes = Number(values.nodes);
const latencyReports = Number(values.latency);
const pgUrl = values.pg ?? process.env.TEND_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const dispatcher = new Agent({ connections: 64, pipelining: 1 });

const watchdog = setTimeout(() => {
  process.stderr.write("bench/alerts: the 30-minute limit passed; stopping\n");
  process.exit(1);
}, 30 * 60_000);
watchdog.unref();

async function call(url: string, method: "GET" | "POST", body?: unknown, token?: string) {
  const res = await request(url, {
    method,
    dispatcher,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function failing(node: string): Report {
  const r = makeReport(node, null, { count: 20 });
  const x = r.resources[3] as Report["resources"][number];
  x.status = "failed";
  x.error = "E: Unable to locate package nginx";
  return { ...r, status: "failed", summary: { ...r.summary, failed: 1, unchanged: r.summary.unchanged - 1 } };
}

/** Runs `fn` over `items`, `width` at a time. */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

interface Rig {
  server: ServerProcess;
  pd: Receiver;
  slack: Receiver;
  hook: Receiver;
  token: string;
  admin: string;
  close(): Promise<void>;
}

async function rig(
  database: "sqlite" | "postgres",
  limits: Record<string, unknown> | null,
  uses: number,
): Promise<Rig> {
  const [pd, slack, hook] = await Promise.all([
    pagerDutyReceiver(),
    slackReceiver(),
    webhookReceiver(hookSecret),
  ]);
  const dir = mkdtempSync(join(tmpdir(), "tend-bench-alerts-"));
  mkdirSync(join(dir, "data"), { mode: 0o700 });
  const repo = new TestRepo();
  repo.commit(goodRecipes);
  const schema = `tend_bench_${randomBytes(4).toString("hex")}`;
  const alerts = alertsConfig(dir, { pd: pd.url, slack: slack.url, hook: hook.url });
  if (limits) for (const s of alerts.sinks as Record<string, unknown>[]) Object.assign(s, limits);
  const config = join(dir, "server.yaml");
  writeFileSync(
    config,
    JSON.stringify({
      listen: "127.0.0.1:0",
      data_dir: `${dir}/data`,
      log_level: "warn",
      ...(database === "postgres" ? { database: pgUrl, database_schema: schema } : {}),
      recipes: { repo: repo.dir, branch: "main", poll: "0" },
      limits: { enroll_burst: 1_000_000, enroll_per_minute: 1_000_000, max_in_flight: 100_000 },
      alerts,
    }),
    { mode: 0o600 },
  );
  const token = (
    await tendServer(["token", "create", "--uses", String(uses), "--config", config])
  ).stdout.trim();
  const admin = (await tendServer(["token", "create", "--admin", "--config", config])).stdout.trim();
  const server = await spawnServer(config);
  return {
    server,
    pd,
    slack,
    hook,
    token,
    admin,
    async close() {
      await stop(server);
      await Promise.all([pd.close(), slack.close(), hook.close()]);
      repo.cleanup();
      rmSync(dir, { recursive: true, force: true });
      if (database === "postgres") {
        const c = new pg.Client({ connectionString: pgUrl });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await c.end();
      }
    },
  };
}

async function enroll(r: Rig, nodes: string[]): Promise<Map<string, string>> {
  const creds = new Map<string, string>();
  await pool(nodes, 16, async (node) => {
    const res = await call(`${r.server.url}/api/v1/enroll`, "POST", { token: r.token, node });
    if (res.status !== 200)
      throw new Error(`enrolment of ${node}: ${res.status} ${JSON.stringify(res.json)}`);
    creds.set(node, String(res.json.credential));
  });
  return creds;
}

const nodeOf = (key: string) => /^tend\/(.+)\/failing$/.exec(key)?.[1] ?? "";

async function latency(database: "sqlite" | "postgres"): Promise<string[]> {
  const r = await rig(database, { max_per_minute: 100_000 }, latencyReports);
  try {
    const nodes = Array.from({ length: latencyReports }, (_, i) => `lat-${i}`);
    const creds = await enroll(r, nodes);
    const sentAt = new Map<string, number>();
    for (const node of nodes) {
      const started = Date.now();
      sentAt.set(node, started);
      const res = await call(`${r.server.url}/api/v1/reports`, "POST", failing(node), creds.get(node));
      if (res.status !== 201) throw new Error(`report: ${res.status}`);
      await new Promise((x) => setTimeout(x, Math.max(0, 100 - (Date.now() - started))));
    }
    const n = nodes.length;
    await Promise.all([
      r.pd.waitFor((x) => x.length === n, 60_000),
      r.slack.waitFor((x) => x.length === n, 60_000),
      r.hook.waitFor((x) => x.length === n, 60_000),
    ]);
    const slackNode = (text: string) => /:red_circle: (\S+) is failing/.exec(text)?.[1] ?? "";
    const rows: [string, number[]][] = [
      [
        "pagerduty",
        r.pd.received.map((x) => x.at - (sentAt.get(nodeOf(String(x.body.dedup_key))) ?? Number.NaN)),
      ],
      [
        "slack",
        r.slack.received.map((x) => x.at - (sentAt.get(slackNode(String(x.body.text))) ?? Number.NaN)),
      ],
      ["webhook", r.hook.received.map((x) => x.at - (sentAt.get(String(x.body.node)) ?? Number.NaN))],
    ];
    const invalid = r.pd.invalid.length + r.slack.invalid.length + r.hook.invalid.length;
    return rows.map(
      ([sink, ms]) =>
        `${database.padEnd(9)}${sink.padEnd(11)}${String(ms.length).padStart(6)}  p50 ${pct(ms, 50).toFixed(0).padStart(4)} ms  p99 ${pct(ms, 99).toFixed(0).padStart(5)} ms  max ${Math.max(
          ...ms,
        )
          .toFixed(0)
          .padStart(5)} ms  invalid ${invalid}`,
    );
  } finally {
    await r.close();
  }
}

function pages(received: Receiver["received"], key: (b: Record<string, unknown>) => string, storm: RegExp) {
  const keys = received.map((x) => key(x.body));
  const storms = keys.filter((k) => storm.test(k)).length;
  return { singles: keys.length - storms, storms, twice: keys.length - new Set(keys).size };
}

async function storm(database: "sqlite" | "postgres"): Promise<string[]> {
  const r = await rig(database, null, stormNodes);
  try {
    const nodes = Array.from({ length: stormNodes }, (_, i) => `node-${i}`);
    const t0 = Date.now();
    const creds = await enroll(r, nodes);
    process.stdout.write(
      `  ${database}: ${nodes.length} nodes enrolled in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
    );
    const start = Date.now();
    await pool(nodes, 64, async (node) => {
      const res = await call(`${r.server.url}/api/v1/reports`, "POST", failing(node), creds.get(node));
      if (res.status !== 201) throw new Error(`report: ${res.status} ${JSON.stringify(res.json)}`);
    });
    const ingested = Date.now() - start;
    let drained = Number.NaN;
    for (let i = 0; i < 1200; i++) {
      const api = await call(`${r.server.url}/api/v1/alerts`, "GET", undefined, r.admin);
      const sinks = api.json.sinks as { pending: number }[];
      if (r.hook.received.length >= nodes.length && sinks.every((s) => s.pending === 0)) {
        drained = Date.now() - start;
        break;
      }
      await new Promise((x) => setTimeout(x, 100));
    }
    const p = pages(r.pd.received, (b) => String(b.dedup_key), /storm:/);
    const s = pages(r.slack.received, (b) => String(b.text), /\(a storm\)/);
    const h = pages(r.hook.received, (b) => String(b.id), /^$/);
    const events = 3 * nodes.length;
    return [
      `${database}: ${nodes.length} failing reports stored in ${(ingested / 1000).toFixed(1)} s (${((nodes.length * 1000) / ingested).toFixed(0)}/s); outbox empty ${(drained / 1000).toFixed(1)} s after the first report (${((events * 1000) / drained).toFixed(0)} events/s: ${events} events, 3 sinks)`,
      `  pagerduty: ${p.singles} pages one by one + ${p.storms} storm page, ${p.twice} condition(s) paged twice, ${r.pd.requests} requests, ${r.pd.invalid.length} invalid`,
      `  slack:     ${s.singles} messages one by one + ${s.storms} storm message, ${s.twice} repeated, ${r.slack.requests} requests, ${r.slack.invalid.length} invalid`,
      `  webhook:   ${h.singles} events, ${h.twice} delivered twice, ${r.hook.invalid.length} invalid`,
    ];
  } finally {
    await r.close();
  }
}

const databases: ("sqlite" | "postgres")[] = [];
if (values.only !== "postgres") databases.push("sqlite");
if (values.only !== "sqlite") databases.push("postgres");
process.stdout.write(
  `tend alerts bench (load average at the start: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")})\n`,
);
const latencyRows: string[] = [];
const stormRows: string[] = [];
for (const d of databases) {
  latencyRows.push(...(await latency(d)));
  stormRows.push(...(await storm(d)));
}
process.stdout.write(
  `\nreport → receiver's 200, ${latencyReports} failing reports at 10/s (target: p99 ≤ 1 s)\n${latencyRows.join("\n")}\n`,
);
process.stdout.write(
  `\nstorm: every node failing at once (target: drained in ≤ 30 s, one page per condition per sink)\n${stormRows.join("\n")}\n`,
);
process.stdout.write(
  `  load average at the end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}\n`,
);
await dispatcher.close();
