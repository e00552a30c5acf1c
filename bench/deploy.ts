/**
 * bench/deploy: git push → every node converged, for a fleet of simulated agents (issue 11). A real
 * server process on 127.0.0.1 (SQLite), `deploy.on_commit: auto` (canary 1, then 4 waves of 25 %,
 * no pause), N nodes enrolled through the API and held by load processes (bench/deploy-load.ts)
 * with the agent's own push channel; on a signal each pulls its catalog and reports on the commit
 * it was served. A commit is made and the git webhook called; the clock stops when the rollout is
 * done (every node reported on the commit). Then the same with `on_commit: push` (no rollout: one
 * fleet-wide signal) for comparison. Prints, asserting nothing:
 *
 *   npx tsx bench/deploy.ts [--agents 1000] [--workers 2] [--run-rate 100]
 *
 * `--run-rate` is `push.run_rate`: the runs per second a signal to many nodes asks of the fleet
 * (agents start at a random moment within nodes ÷ run_rate seconds), which bounds a wave's time.
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { RolloutView } from "../server/rollouts/view.js";
import { freePort } from "../test/helpers/agent-e2e.js";
import { TestRepo } from "../test/helpers/server-git.js";
import { type ServerProcess, spawnServer, stop, tendServer } from "../test/helpers/server-process.js";
import type { DeployLoadMessage } from "./deploy-load.js";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "1000" },
    workers: { type: "string", default: "2" },
    "run-rate": { type: "string", default: "100" },
  },
});
const agents = Number(values.agents);
const workers = Number(values.workers);
const f1 = (x: number) => x.toFixed(1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const recipe = (motd: string) => ({
  "nodes.yaml": '- name: "*"\n  recipes: [base]\n',
  "base/recipe.yaml": `description: base\nresources:\n  - file: /etc/motd\n    content: "${motd}\\n"\n`,
});

async function sitting(mode: "auto" | "push"): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tend-bench-deploy-"));
  const repo = new TestRepo();
  repo.commit(recipe("v1"));
  const config = join(dir, "server.yaml");
  writeFileSync(
    config,
    `listen: 127.0.0.1:${await freePort()}\ndata_dir: ${dir}/data\nlog_level: warn\n` +
      `recipes:\n  repo: ${repo.dir}\n  branch: main\n  poll: 0\n` +
      "limits:\n  enroll_burst: 1000000\n  enroll_per_minute: 1000000\n" +
      `push:\n  run_rate: ${values["run-rate"]}\ndeploy:\n  on_commit: ${mode}\n`,
  );
  const token = (
    await tendServer(["token", "create", "--uses", String(agents), "--config", config])
  ).stdout.trim();
  const admin = (await tendServer(["token", "create", "--admin", "--config", config])).stdout.trim();
  const server: ServerProcess = await spawnServer(config);
  const children = Array.from({ length: workers }, () =>
    fork(new URL("./deploy-load.ts", import.meta.url).pathname, [], { execArgv: ["--import", "tsx"] }),
  );
  const ask = <T>(child: (typeof children)[number], m: DeployLoadMessage) =>
    new Promise<T>((resolve) => {
      child.once("message", (reply) => resolve(reply as T));
      child.send(m);
    });
  const api = async <T>(method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return (await res.json()) as T;
  };
  try {
    const identities: { node: string; credential: string }[] = [];
    for (let i = 0; i < agents; i += 32) {
      const batch = Array.from(
        { length: Math.min(32, agents - i) },
        (_, k) => `node-${String(i + k).padStart(5, "0")}`,
      );
      identities.push(
        ...(await Promise.all(
          batch.map(async (node) => {
            const res = await fetch(`${server.url}/api/v1/enroll`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ token, node }),
            });
            return { node, credential: ((await res.json()) as { credential: string }).credential };
          }),
        )),
      );
    }
    await Promise.all(
      children.map((c, w) =>
        ask(c, {
          type: "start",
          url: server.url,
          identities: identities.filter((_, i) => i % workers === w),
        }),
      ),
    );
    // Every node on v1 first (a fleet-wide run), so the deploy starts from a converged fleet.
    await api("POST", "/api/v1/signals", { nodes: "*", signal: "run" });
    await sleep(2_000 + (agents / Number(values["run-rate"])) * 1000);

    const failedBefore = await Promise.all(
      children.map((c) => ask<{ failures: number; firstError: string }>(c, { type: "count" })),
    );
    const early = failedBefore.reduce((n, f) => n + f.failures, 0);
    if (early > 0)
      console.log(
        `  (${early} of the ${agents} runs on v1 failed, the first: ${failedBefore.find((f) => f.firstError)?.firstError}; the deploy does not need them)`,
      );
    const t0 = Date.now();
    const v2 = repo.commit(recipe("v2"), "v2");
    await api("POST", "/api/v1/hooks/git", {});
    const hooked = Date.now() - t0;
    let done: RolloutView | undefined;
    let converged = 0;
    while (Date.now() - t0 < 600_000) {
      if (mode === "auto") {
        const [r] = (await api<{ rollouts: RolloutView[] }>("GET", "/api/v1/rollouts")).rollouts;
        if (r?.commit === v2 && r.state !== "running") {
          done = await api<RolloutView>("GET", `/api/v1/rollouts/${r.id}`);
          break;
        }
      } else {
        const nodes = await api<{ last_commit: string | null }[]>("GET", "/api/v1/nodes");
        converged = nodes.filter((n) => n.last_commit === v2).length;
        if (converged === agents) break;
      }
      await sleep(100);
    }
    const total = Date.now() - t0;
    if (mode === "auto" && done) {
      console.log(
        `on_commit: auto  ${agents} agents: git commit + webhook → rollout ${done.state} in ${f1(total / 1000)} s (webhook answered in ${hooked} ms); ${done.counts.changed + done.counts.unchanged} nodes reported on the commit, ${done.counts.failed} failed; load avg ${f1(loadavg()[0] ?? 0)}`,
      );
      for (const w of done.waves) {
        const took = w.started_at && w.ended_at ? w.ended_at - w.started_at : Number.NaN;
        console.log(
          `  ${w.name.padEnd(8)} ${String(w.nodes.length).padStart(5)} nodes  ${f1(took / 1000).padStart(6)} s`,
        );
      }
    } else {
      console.log(
        `on_commit: push  ${agents} agents: git commit + webhook → ${converged} of ${agents} reported on the commit in ${f1(total / 1000)} s (one fleet-wide signal); load avg ${f1(loadavg()[0] ?? 0)}`,
      );
    }
  } finally {
    const failures = await Promise.all(
      children.map((c) => ask<{ failures: number; firstError: string }>(c, { type: "stop" })),
    );
    const failed = failures.reduce((n, f) => n + f.failures, 0);
    if (failed > 0)
      console.log(
        `  ${failed} simulated runs failed during the deploy (the first: ${failures.find((f) => f.firstError)?.firstError}); each was tried again up to 3 times, 2 s apart`,
      );
    await stop(server);
    repo.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`bench/deploy: a real server process (SQLite), push.run_rate ${values["run-rate"]}/s`);
await sitting("auto");
await sitting("push");
