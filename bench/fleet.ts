/**
 * bench/fleet: how many agents one server handles on this machine. A real server process on
 * loopback (SQLite, one commit of the example recipes); a few worker processes, each playing its
 * share of N agents with the agent's own client code (agent/client/api.ts): every agent polls its
 * catalog (If-None-Match → 304) and posts a report once per 30-minute interval. Time is
 * compressed: each step runs the steady-state request rate of N agents (2N/1800 requests per
 * second) for a window, and reports p50/p99. Prints the largest N with p99 < 100 ms.
 *
 *   npx tsx bench/fleet.ts [--nodes 300] [--window 20] [--workers 3] [--max 1600000]
 *
 * Agents share `--nodes` enrolled identities (round robin): the request mix and sizes are those of
 * N agents; the server's per-node catalog cache holds `--nodes` entries, not N.
 */
import { fork } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { NodeApi } from "../agent/client/api.js";
import { freePort } from "../test/helpers/agent-e2e.js";
import { facts as fakeFacts, TestRepo } from "../test/helpers/server-git.js";
import { spawnServer, stop, tendServer } from "../test/helpers/server-process.js";
import { makeReport } from "../test/helpers/server-report.js";

interface Job {
  url: string;
  identities: { node: string; credential: string }[];
  ratePerS: number;
  windowS: number;
}

async function worker(job: Job): Promise<number[]> {
  const apis = job.identities.map((i) => ({
    node: i.node,
    api: new NodeApi(job.url, i.credential, { attempts: 1 }),
  }));
  const etags = new Map<string, string | null>();
  const lat: number[] = [];
  const end = Date.now() + job.windowS * 1000;
  const gapMs = 1000 / job.ratePerS;
  let next = Date.now();
  let k = 0;
  const inflight = new Set<Promise<void>>();
  while (Date.now() < end) {
    const a = apis[k++ % apis.length]!;
    const one = (async () => {
      const t0 = performance.now();
      try {
        if (k % 2 === 0) {
          const r = await a.api.catalog(fakeFacts(a.node) as never, etags.get(a.node) ?? null);
          if (r.status === 200) etags.set(a.node, r.etag);
        } else {
          await a.api.report(makeReport(a.node, null, { count: 20 }));
        }
        lat.push(performance.now() - t0);
      } catch {
        lat.push(Number.POSITIVE_INFINITY);
      }
    })();
    inflight.add(one);
    void one.finally(() => inflight.delete(one));
    next += gapMs;
    const wait = next - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else if (inflight.size > 2000) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  return lat;
}

if (process.argv.includes("--worker")) {
  process.once("message", async (job: Job) => {
    const lat = await worker(job);
    process.send!(
      lat.map((x) => (Number.isFinite(x) ? x : -1)),
      () => process.exit(0),
    );
  });
} else {
  const { values } = parseArgs({
    options: {
      nodes: { type: "string", default: "300" },
      window: { type: "string", default: "20" },
      workers: { type: "string", default: "3" },
      max: { type: "string", default: "1600000" },
    },
  });
  const nodes = Number(values.nodes);
  const windowS = Number(values.window);
  const workers = Number(values.workers);
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
  const server = await spawnServer(config);
  const identities: Job["identities"] = [];
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
  console.log(
    `bench/fleet: server ${server.url}, ${nodes} identities, ${workers} workers, ${windowS}s per step`,
  );
  console.log("agents     req/s   p50 ms   p99 ms   errors");
  let best = 0;
  for (let n = 12_500; n <= Number(values.max); n *= 2) {
    const rate = (2 * n) / 1800;
    const results = await Promise.all(
      Array.from({ length: workers }, (_, w) => {
        const child = fork(new URL(import.meta.url).pathname, ["--worker"], {
          execArgv: ["--import", "tsx"],
        });
        const mine = identities.filter((_, i) => i % workers === w);
        child.send({ url: server.url, identities: mine, ratePerS: rate / workers, windowS } satisfies Job);
        return new Promise<number[]>((resolve) => child.once("message", (m) => resolve(m as number[])));
      }),
    );
    const all = results.flat();
    const errors = all.filter((x) => x < 0).length;
    const ok = all.filter((x) => x >= 0).sort((a, b) => a - b);
    const q = (p: number) => ok[Math.min(ok.length - 1, Math.floor(p * ok.length))] ?? Number.NaN;
    const p99 = errors > 0 ? Number.POSITIVE_INFINITY : q(0.99);
    console.log(
      `${String(n).padStart(7)} ${rate.toFixed(0).padStart(8)} ${q(0.5).toFixed(1).padStart(8)} ${q(0.99).toFixed(1).padStart(8)} ${String(errors).padStart(8)}`,
    );
    if (p99 < 100) best = n;
    else break;
  }
  console.log(`largest N with p99 < 100 ms: ${best >= 12_500 ? best : `< 12500`}`);
  await stop(server);
  repo.cleanup();
}
