/**
 * bench/fleet: how many agents one server handles on this machine. A real server process on
 * loopback (SQLite, one commit of a 20-file recipe); a few long-lived worker processes play N agents
 * with the agent's own client code (agent/client/api.ts).
 *
 * What one agent does, as the daemon does it: once per 30-minute interval, at its splay offset, a
 * run starts in a new process, so it opens a new connection and polls its catalog with
 * If-None-Match (→ 304), converges (`--run-ms`, 1 s by default), posts its report on the same
 * connection and exits. The offsets are sha256(node) over `splay`, uniform over the fleet, so run
 * starts are a Poisson stream of N/splay per second. Time is compressed: each step plays that
 * stream for `--window` seconds (a window's worth of the real interval, not the whole interval at
 * once) and reports p50/p99 of every request. Each step is played `--repeat` times (3) and
 * passes when the median of its windows' p99 is under 100 ms: the machine this runs on is shared,
 * and one window can be spoiled by another process's burst (each window prints the 1-minute load
 * average beside its figures). Prints the largest N with p99 < 100 ms; steps grow by `--factor`.
 *
 *   npx tsx bench/fleet.ts [--splay 1800] [--window 20] [--nodes 200] [--workers 2] [--start 25000]
 *                          [--max N] [--repeat 3] [--factor 2] [--run-ms 1000]
 *                          [--profile DIR (the server's V8 CPU profile)]
 *
 * `--splay 1800` spreads runs over the whole interval: the agent's default (`splay` defaults to the
 * schedule's interval, 1800 s with the default `*\/30` schedule). `--splay 300` is the old default,
 * where every run of the fleet falls in the first 5 minutes of each half hour, 6 times the rate.
 *
 * "server CPU ms/run" is the server process's user + system time over the window divided by the
 * agent runs in it (one poll and one report each): 1800 × 1000 / that is how many agents (at
 * splay 1800) would keep one core busy, a figure the machine's other load hardly moves.
 *
 * Agents share `--nodes` enrolled identities (round robin): the request mix and sizes are those of
 * N agents; the server's per-node catalog cache holds `--nodes` entries, not N. Workers are started
 * and warmed up (every identity polls and reports once) before the first step. Each step also prints
 * the load generator's own event-loop delay p99: when it is large, the workers, not the server, are
 * what the latencies measure.
 */
import { fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Agent } from "undici";
import { NodeApi } from "../agent/client/api.js";
import { freePort } from "../test/helpers/agent-e2e.js";
import { facts as fakeFacts, TestRepo } from "../test/helpers/server-git.js";
import { spawnServer, stop, tendServer } from "../test/helpers/server-process.js";
import { makeReport } from "../test/helpers/server-report.js";

interface Identity {
  node: string;
  credential: string;
}

type Message =
  | { type: "setup"; url: string; identities: Identity[] }
  | { type: "step"; runsPerS: number; windowS: number; runMs: number };

interface StepResult {
  poll: number[];
  report: number[];
  errors: string[];
  lagP99Ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function workerMain(): void {
  let url = "";
  let identities: Identity[] = [];
  const etags = new Map<string, string>();
  let k = 0;

  /** One agent's run: a new connection, a catalog poll, the converge time, the report. */
  async function agentRun(id: Identity, runMs: number, out: StepResult | null): Promise<void> {
    const dispatcher = new Agent({ connections: 1 });
    const api = new NodeApi(url, id.credential, { attempts: 1, dispatcher });
    try {
      let t0 = performance.now();
      const r = await api.catalog(fakeFacts(id.node) as never, etags.get(id.node) ?? null);
      out?.poll.push(performance.now() - t0);
      if (r.status === 200 && r.etag) etags.set(id.node, r.etag);
      await sleep(runMs);
      t0 = performance.now();
      await api.report(makeReport(id.node, null, { count: 20 }));
      out?.report.push(performance.now() - t0);
    } catch (err) {
      out?.errors.push((err as Error).message);
    } finally {
      await dispatcher.close();
    }
  }

  process.on("message", async (m: Message) => {
    if (m.type === "setup") {
      url = m.url;
      identities = m.identities;
      // Warm-up: every identity's first catalog (compiled, 200) and a report; not measured.
      await Promise.all(identities.map((id) => agentRun(id, 0, null)));
      process.send!({ type: "ready" });
      return;
    }
    const out: StepResult = { poll: [], report: [], errors: [], lagP99Ms: 0 };
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const runs: Promise<void>[] = [];
    const start = performance.now();
    const end = start + m.windowS * 1000;
    // Poisson arrivals: exponential gaps with mean 1/rate, on an absolute clock (no drift).
    let next = start;
    for (;;) {
      next += (-Math.log(1 - Math.random()) / m.runsPerS) * 1000;
      if (next >= end) break;
      const wait = next - performance.now();
      if (wait > 1) await sleep(wait);
      runs.push(agentRun(identities[k++ % identities.length]!, m.runMs, out));
    }
    await Promise.all(runs);
    lag.disable();
    out.lagP99Ms = lag.percentile(99) / 1e6;
    process.send!({ type: "result", ...out });
  });
}

function quantile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      nodes: { type: "string", default: "200" },
      window: { type: "string", default: "20" },
      workers: { type: "string", default: "2" },
      splay: { type: "string", default: "1800" },
      "run-ms": { type: "string", default: "1000" },
      start: { type: "string", default: "25000" },
      max: { type: "string", default: "3200000" },
      profile: { type: "string" },
      repeat: { type: "string", default: "3" },
      factor: { type: "string", default: "2" },
    },
  });
  const nodes = Number(values.nodes);
  const windowS = Number(values.window);
  const workers = Number(values.workers);
  const splayS = Number(values.splay);
  const runMs = Number(values["run-ms"]);
  const repeat = Number(values.repeat);
  const factor = Number(values.factor);
  const dir = mkdtempSync(join(tmpdir(), "tend-fleet-"));
  const repo = new TestRepo();
  repo.commit({
    "nodes.yaml": '- name: "*"\n  recipes: [base]\n',
    "base/recipe.yaml": `description: base\nresources:\n${Array.from({ length: 20 }, (_, i) => `  - file: /etc/tend-bench-${i}\n    content: "line ${i}\\n"\n`).join("")}`,
  });
  const config = join(dir, "server.yaml");
  const port = await freePort();
  writeFileSync(
    config,
    `listen: 127.0.0.1:${port}\ndata_dir: ${dir}/data\nlog_level: warn\nrecipes:\n  repo: ${repo.dir}\n  branch: main\n  poll: 0\nlimits:\n  enroll_burst: 1000000\n  enroll_per_minute: 1000000\n`,
  );
  const token = (
    await tendServer(["token", "create", "--uses", String(nodes), "--config", config])
  ).stdout.trim();
  const server = await spawnServer(
    config,
    values.profile ? ["--cpu-prof", "--cpu-prof-dir", values.profile] : [],
  );
  const children = Array.from({ length: workers }, () =>
    fork(new URL(import.meta.url).pathname, ["--worker"], { execArgv: ["--import", "tsx"] }),
  );
  try {
    const identities: Identity[] = [];
    for (let i = 0; i < nodes; i++) {
      const node = `bench-${i}`;
      const res = await fetch(`${server.url}/api/v1/enroll`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token, node }),
      });
      if (!res.ok) throw new Error(`enrol ${node}: ${res.status} ${await res.text()}`);
      identities.push({ node, credential: ((await res.json()) as { credential: string }).credential });
    }
    const ask = <T>(child: (typeof children)[number], m: Message) =>
      new Promise<T>((resolve) => {
        child.once("message", (reply) => resolve(reply as T));
        child.send(m);
      });
    await Promise.all(
      children.map((c, w) =>
        ask(c, {
          type: "setup",
          url: server.url,
          identities: identities.filter((_, i) => i % workers === w),
        }),
      ),
    );
    console.log(
      `bench/fleet: server ${server.url}, ${nodes} identities, ${workers} workers, splay ${splayS}s, run ${runMs} ms, ${windowS}s per step`,
    );
    console.log(
      "   agents  runs/s  req/s  poll p50/p99 ms  report p50/p99 ms  all p99 ms  errors  loadgen lag p99 ms  load avg  server CPU ms/run",
    );
    const f = (x: number) => x.toFixed(1);
    let best = 0;
    for (let n = Number(values.start); n <= Number(values.max); n = Math.round(n * factor)) {
      const runsPerS = n / splayS;
      const p99s: number[] = [];
      for (let w = 0; w < repeat; w++) {
        const cpu0 = cpuMs(server.child.pid);
        const results = await Promise.all(
          children.map((c) =>
            ask<StepResult>(c, { type: "step", runsPerS: runsPerS / workers, windowS, runMs }),
          ),
        );
        const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
        const poll = sorted(results.flatMap((r) => r.poll));
        const report = sorted(results.flatMap((r) => r.report));
        const all = sorted([...poll, ...report]);
        const errors = results.flatMap((r) => r.errors);
        const cpuPerRun = (cpuMs(server.child.pid) - cpu0) / Math.max(1, report.length + errors.length);
        p99s.push(errors.length > 0 ? Number.POSITIVE_INFINITY : quantile(all, 0.99));
        console.log(
          `${String(n).padStart(9)} ${f(runsPerS).padStart(7)} ${f(all.length / windowS).padStart(6)}  ${`${f(quantile(poll, 0.5))} / ${f(quantile(poll, 0.99))}`.padStart(15)}  ${`${f(quantile(report, 0.5))} / ${f(quantile(report, 0.99))}`.padStart(17)}  ${f(quantile(all, 0.99)).padStart(10)}  ${String(errors.length).padStart(6)}  ${f(Math.max(...results.map((r) => r.lagP99Ms))).padStart(18)}  ${f(loadavg()[0] ?? 0).padStart(8)}  ${f(cpuPerRun).padStart(17)}`,
        );
        if (errors.length > 0) console.log(`  first error: ${errors[0]}`);
      }
      const median = quantile(
        p99s.sort((a, b) => a - b),
        0.5,
      );
      console.log(`   → N=${n}: median p99 of ${repeat} windows ${f(median)} ms`);
      if (median < 100) best = n;
      else break;
    }
    console.log(`largest N with p99 < 100 ms (splay ${splayS}s): ${best > 0 ? best : `< ${values.start}`}`);
  } finally {
    for (const c of children) c.kill();
    await stop(server);
    repo.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A process's user + system CPU time so far, in ms (/proc/PID/stat, 100 ticks a second). */
function cpuMs(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

if (process.argv.includes("--worker")) workerMain();
else await main();
