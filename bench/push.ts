/**
 * bench/push: one server holding N connected agents on its push channel (issue 11; targets:
 * 10,000 agents in ≤ 300 MiB of extra server RSS, a fleet-wide signal delivered to all of them in
 * ≤ 2 s). A real server process on 127.0.0.1 (SQLite); N nodes enrolled through the API; separate
 * load processes (bench/push-load.ts) play the agents with the agent's own push channel code,
 * connecting at `--rate` per second. Prints, asserting nothing:
 *
 *  - the server's RSS before the streams and once all are open (and settled): the extra, per stream;
 *  - for each of `--signals` fleet-wide signals (POST /api/v1/signals, nodes "*"): the POST's
 *    latency and count, and the time from the POST to each agent's receipt (p50, p99, last);
 *  - a server restart (SIGTERM, started again at once): how the agents' reconnects spread
 *    (the busiest second, the time until all are back, failed attempts while it was down).
 *
 *   npx tsx bench/push.ts [--agents 10000] [--workers 2] [--signals 3] [--rate 2000]
 *                         [--no-restart]
 *
 * The file-descriptor limit is raised for this process and its children (prlimit) when it is
 * lower than the streams need. Loopback has about 28,000 ephemeral ports (32768-60999), enough
 * for one load address to hold 10,000 streams.
 */
import { execFileSync, fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort } from "../test/helpers/agent-e2e.js";
import { TestRepo } from "../test/helpers/server-git.js";
import { type ServerProcess, spawnServer, stop, tendServer } from "../test/helpers/server-process.js";
import type { LoadMessage, RoundResult } from "./push-load.js";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "10000" },
    workers: { type: "string", default: "2" },
    signals: { type: "string", default: "3" },
    rate: { type: "string", default: "2000" },
    "no-restart": { type: "boolean", default: false },
  },
});
const agents = Number(values.agents);
const workers = Number(values.workers);

function rssMiB(pid: number | undefined): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1]) / 1024;
}

function cpuMs(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const q = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f1 = (x: number) => x.toFixed(1);

/** Raises the soft file-descriptor limit of this process (and so its children) up to `need`. */
function raiseFileLimit(need: number): void {
  const soft = Number(execFileSync("sh", ["-c", "ulimit -Sn"], { encoding: "utf8" }).trim());
  const hard = Number(execFileSync("sh", ["-c", "ulimit -Hn"], { encoding: "utf8" }).trim());
  if (soft >= need) return;
  const to = Math.min(need, hard);
  try {
    execFileSync("prlimit", ["--pid", String(process.pid), `--nofile=${to}:${hard}`]);
    console.log(`file descriptor limit raised from ${soft} to ${to}`);
  } catch (err) {
    console.log(`cannot raise the file descriptor limit (${soft}): ${(err as Error).message}`);
  }
  if (to < need) console.log(`warning: the hard limit (${hard}) is below the ${need} descriptors wanted`);
}

async function main(): Promise<void> {
  // The server holds one descriptor a stream (a load process holds its share of them).
  raiseFileLimit(agents + 1_000);
  const dir = mkdtempSync(join(tmpdir(), "tend-bench-push-"));
  const repo = new TestRepo();
  repo.commit({
    "nodes.yaml": '- name: "*"\n  recipes: [base]\n',
    "base/recipe.yaml": 'description: base\nresources:\n  - file: /etc/tend-bench\n    content: "x\\n"\n',
  });
  const config = join(dir, "server.yaml");
  const port = await freePort();
  writeFileSync(
    config,
    `listen: 127.0.0.1:${port}\ndata_dir: ${dir}/data\nlog_level: warn\n` +
      `recipes:\n  repo: ${repo.dir}\n  branch: main\n  poll: 0\n` +
      "limits:\n  enroll_burst: 1000000\n  enroll_per_minute: 1000000\npush:\n  heartbeat: 10s\n",
  );
  const token = (
    await tendServer(["token", "create", "--uses", String(agents), "--config", config])
  ).stdout.trim();
  const admin = (await tendServer(["token", "create", "--admin", "--config", config])).stdout.trim();
  let server: ServerProcess = await spawnServer(config);
  const children = Array.from({ length: workers }, () =>
    fork(new URL("./push-load.ts", import.meta.url).pathname, [], { execArgv: ["--import", "tsx"] }),
  );
  const ask = <T>(child: (typeof children)[number], m: LoadMessage) =>
    new Promise<T>((resolve) => {
      child.once("message", (reply) => resolve(reply as T));
      child.send(m);
    });
  try {
    const identities: { node: string; credential: string }[] = [];
    const enrolStart = Date.now();
    for (let i = 0; i < agents; i += 32) {
      const batch = Array.from({ length: Math.min(32, agents - i) }, (_, k) => `push-${i + k}`);
      identities.push(
        ...(await Promise.all(
          batch.map(async (node) => {
            const res = await fetch(`${server.url}/api/v1/enroll`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ token, node }),
            });
            if (!res.ok) throw new Error(`enrol ${node}: ${res.status} ${await res.text()}`);
            return { node, credential: ((await res.json()) as { credential: string }).credential };
          }),
        )),
      );
    }
    console.log(
      `bench/push: server ${server.url} (SQLite), ${agents} agents enrolled in ${f1((Date.now() - enrolStart) / 1000)} s, ${workers} load processes`,
    );
    await sleep(3_000);
    const before = rssMiB(server.child.pid);
    const share = (w: number) => identities.filter((_, i) => i % workers === w);
    const opened = await Promise.all(
      children.map((c, w) =>
        ask<{ connected: number; ms: number; failures: number }>(c, {
          type: "start",
          url: server.url,
          identities: share(w),
          perSecond: Number(values.rate) / workers,
        }),
      ),
    );
    const connected = opened.reduce((n, o) => n + o.connected, 0);
    console.log(
      `streams open: ${connected} of ${agents} in ${f1(Math.max(...opened.map((o) => o.ms)) / 1000)} s (${values.rate}/s asked), ${opened.reduce((n, o) => n + o.failures, 0)} agents had a failed attempt`,
    );
    await sleep(12_000); // past one heartbeat (10 s here): its writes and credential check included
    const after = rssMiB(server.child.pid);
    console.log(
      `server RSS: ${f1(before)} MiB before the streams, ${f1(after)} MiB with ${connected} open: +${f1(after - before)} MiB (${f1(((after - before) * 1024) / Math.max(1, connected))} KiB a stream; target ≤ 300 MiB for 10,000)`,
    );

    console.log(
      "  signal  POST ms  delivered  queued  to all p50 ms  p99 ms  last ms  server CPU ms  loadgen lag p99 ms  load avg",
    );
    for (let round = 1; round <= Number(values.signals); round++) {
      const cpu0 = cpuMs(server.child.pid);
      const t0 = Date.now();
      const res = await fetch(`${server.url}/api/v1/signals`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
        body: JSON.stringify({ nodes: "*", signal: "noop" }),
      });
      const post = Date.now() - t0;
      const sent = (await res.json()) as { delivered: number; queued: number };
      const results = await Promise.all(
        children.map((c) => ask<RoundResult>(c, { type: "signal", round, timeoutMs: 30_000 })),
      );
      const cpu = cpuMs(server.child.pid) - cpu0;
      const times = results.flatMap((r) => r.times.map((x) => x - t0)).sort((a, b) => a - b);
      console.log(
        `${String(round).padStart(8)} ${String(post).padStart(8)} ${String(sent.delivered).padStart(10)} ${String(sent.queued).padStart(7)} ${f1(q(times, 0.5)).padStart(14)} ${f1(q(times, 0.99)).padStart(7)} ${f1(times[times.length - 1] ?? NaN).padStart(8)} ${String(cpu).padStart(14)} ${f1(Math.max(...results.map((r) => r.lagP99Ms))).padStart(19)} ${f1(loadavg()[0] ?? 0).padStart(9)}`,
      );
      if (times.length < connected)
        console.log(`  ${connected - times.length} agents did not get it within 30 s`);
      await sleep(1_000);
    }

    if (!values["no-restart"]) {
      const waiting = children.map((c) =>
        ask<{ times: number[]; failures: number }>(c, { type: "reconnect", timeoutMs: 240_000 }),
      );
      const down = Date.now();
      await stop(server);
      server = await spawnServer(config);
      const up = Date.now();
      const back = await Promise.all(waiting);
      const times = back.flatMap((b) => b.times).sort((a, b) => a - b);
      const perSecond = new Map<number, number>();
      for (const t of times)
        perSecond.set(Math.floor((t - down) / 1000), (perSecond.get(Math.floor((t - down) / 1000)) ?? 0) + 1);
      console.log(
        `server restart (SIGTERM, started again: down ${f1((up - down) / 1000)} s): ${times.length} of ${connected} reconnected, the last ${f1(((times[times.length - 1] ?? down) - down) / 1000)} s after the stop; busiest second ${Math.max(...perSecond.values())} reconnects; ${back.reduce((n, b) => n + b.failures, 0)} agents found it down at least once (each retried with backoff)`,
      );
    }
  } finally {
    for (const c of children) c.send({ type: "stop" } satisfies LoadMessage);
    await stop(server);
    repo.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
