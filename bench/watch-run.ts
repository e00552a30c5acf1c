/**
 * bench/watch-run: one watch repair as a process, on this machine (no box): a real server on
 * 127.0.0.1 with a catalog of `--files` managed files (1,000 by default) under a temp dir, an agent
 * enrolled and converged once (so the signed catalog is cached in its state_dir), then `--runs`
 * times: a managed file is overwritten and `tend agent run --trigger watch --resource ID` (the
 * agent bundle, as the daemon starts it; `--bundle FILE` for another build) puts it back. Printed, never asserted: each run's wall
 * time (p50, p90, max) and, with `--profile DIR`, a V8 CPU profile of each (`--cpu-prof`).
 *
 *   npx tsx bench/watch-run.ts [--files 1000] [--runs 20] [--profile DIR] [--bundle FILE]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildBundle, fleetServer } from "../test/helpers/agent-e2e.js";
import { TestRepo } from "../test/helpers/server-git.js";
import { stop } from "../test/helpers/server-process.js";

const { values } = parseArgs({
  options: {
    files: { type: "string", default: "1000" },
    runs: { type: "string", default: "20" },
    profile: { type: "string" },
    bundle: { type: "string" },
  },
});
const files = Number(values.files);
const runs = Number(values.runs);

const root = mkdtempSync(join(tmpdir(), "tend-watch-run-"));
const target = join(root, "target");
const resources = ["resources:", `  - file: ${target}`, "    ensure: directory"];
for (let d = 0; d < 10; d++) resources.push(`  - file: ${target}/d${d}`, "    ensure: directory");
for (let i = 0; i < files; i++)
  resources.push(`  - file: ${target}/d${i % 10}/f${i}.conf`, `    content: "managed file ${i}\\n"`);
const repo = new TestRepo();
repo.commit({
  "nodes.yaml": '- name: "*"\n  recipes: [bench]\n',
  "bench/recipe.yaml": `${resources.join("\n")}\n`,
});
const bundle = values.bundle ?? buildBundle();
const fleet = await fleetServer(repo.dir, bundle);
const server = await fleet.start();
const stateDir = join(root, "state");
const config = join(root, "agent.yaml");

const tend = (args: string[], nodeArgs: string[] = []) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...nodeArgs, bundle, ...args], { encoding: "utf8" });
  const ms = performance.now() - t0;
  if (r.status !== 0 && r.status !== 2)
    throw new Error(`tend ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return { ms, out: r.stdout };
};

try {
  const token = await fleet.token(1);
  tend([
    "agent",
    "enroll",
    "--server",
    fleet.url,
    "--token",
    token,
    "--node",
    "watch-run-1",
    "--config",
    config,
    "--state-dir",
    stateDir,
  ]);
  writeFileSync(config, `${readFileSync(config, "utf8")}watch: true\n`);
  tend(["agent", "run", "--log-line", "--config", config]);
  if (values.profile) mkdirSync(values.profile, { recursive: true });
  const ms: number[] = [];
  const load = loadavg()[0]!;
  for (let k = 0; k < runs; k++) {
    const i = Math.floor(Math.random() * files);
    const path = `${target}/d${i % 10}/f${i}.conf`;
    // The same file drawn more than 5 times would become contested (the fight guard): start it over.
    rmSync(join(stateDir, "watch-guard.json"), { force: true });
    writeFileSync(path, `edited by hand ${k}\n`);
    const prof = values.profile ? ["--cpu-prof", "--cpu-prof-dir", values.profile] : [];
    const r = tend(
      ["agent", "run", "--log-line", "--config", config, "--trigger", "watch", "--resource", `file:${path}`],
      prof,
    );
    if (readFileSync(path, "utf8") !== `managed file ${i}\n`)
      throw new Error(`${path} not repaired:\n${r.out}`);
    ms.push(r.ms);
  }
  ms.sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]!.toFixed(0);
  process.stdout.write(
    [
      `one watch run (tend agent run --trigger watch --resource ID), ${files} managed files, ${runs} runs, Node.js ${process.version}`,
      `  wall: p50 ${q(50)} ms, p90 ${q(90)} ms, max ${q(100)} ms (load average ${load.toFixed(2)} → ${loadavg()[0]!.toFixed(2)})`,
      "",
    ].join("\n"),
  );
} finally {
  await stop(server);
  repo.cleanup();
  rmSync(root, { recursive: true, force: true });
}
