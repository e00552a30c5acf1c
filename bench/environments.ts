/**
 * Environments benchmark (issue 13): a generated 5,000-resource repository followed on 1 and on
 * BRANCHES branches (each with its own head, a small change from main). After the start-up ingest,
 * one push to one branch: the git gate's time (fetch, judge the new head against the branch's
 * nodes, make it live) and the server's RSS. The target: the push's gate time independent of the
 * number of branches followed (within ±20 %). Never asserts.
 *
 *   node --import tsx bench/environments.ts [RESOURCES=5000] [BRANCHES=50] [PUSHES=5]
 *
 * In process: a real bare mirror, real SQLite, the core compiler, NODES nodes in main and one in
 * every other branch, each with facts the gate compiles them with. A warm-up pass (1 branch) runs
 * first and is not printed. Run with --expose-gc for a settled RSS.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { coreCompiler } from "../server/compiler.js";
import { GitGate } from "../server/git/gate.js";
import { GitMirror } from "../server/git/mirror.js";
import { openSqlite } from "../server/storage/sqlite.js";
import { sampleFacts } from "../test/helpers/facts.js";
import { generateRepo } from "./gen-repo.js";
import { fmt, median } from "./lib.js";

const args = process.argv.slice(2);
const total = Number(args[0] ?? 5000);
const branches = Number(args[1] ?? 50);
const pushes = Number(args[2] ?? 5);
const NODES = 20;

const env = {
  ...process.env,
  GIT_AUTHOR_NAME: "b",
  GIT_AUTHOR_EMAIL: "b@example.com",
  GIT_COMMITTER_NAME: "b",
  GIT_COMMITTER_EMAIL: "b@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
};
const root = mkdtempSync(join(tmpdir(), "tend-bench-envs-"));
const repo = join(root, "repo");
const git = (...a: string[]) => execFileSync("git", ["-C", repo, ...a], { env, encoding: "utf8" }).trim();
execFileSync("git", ["init", "-q", "-b", "main", repo], { env });
generateRepo(repo, total);
git("add", "-A");
git("commit", "-q", "-m", "generated");

/** A commit on `branch` changing one small file (the motd of recipe r0), made with plumbing. */
function commitOn(branch: string, text: string): string {
  git("checkout", "-q", branch);
  writeFileSync(join(repo, "r0", "files", "f5.txt"), `${text}\n`);
  git("commit", "-q", "-am", text);
  git("checkout", "-q", "main");
  return git("rev-parse", branch);
}

const silent = {
  level: "silent",
  fatal() {},
  error() {},
  warn() {},
  info() {},
  debug() {},
  trace() {},
  silent() {},
  child() {
    return silent;
  },
} as never;

const rssMiB = () => Math.round(process.memoryUsage().rss / 1048576);

async function scenario(followed: number): Promise<{ startMs: number; pushMs: number[]; rss: number }> {
  for (let b = 1; b < followed; b++) {
    git("branch", "-f", `env-${b}`, "main");
    commitOn(`env-${b}`, `branch ${b}`);
  }
  const dir = mkdtempSync(join(root, "server-"));
  const storage = await openSqlite(join(dir, "tend.db"));
  const names = ["main", ...Array.from({ length: followed - 1 }, (_, b) => `env-${b + 1}`)];
  for (let i = 0; i < NODES; i++)
    await storage.saveFacts(`bench-${i}`, sampleFacts({ hostname: `bench-${i}` }), Date.now());
  for (const b of names.slice(1)) {
    const node = `bench-${b}`;
    await storage.saveFacts(node, sampleFacts({ hostname: node }), Date.now());
    await storage.setNodeEnvironment(node, { environment: b, requested: null, note: null, at: Date.now() });
  }
  const mirror = new GitMirror(join(dir, "recipes.git"), repo, "main");
  const patterns = followed > 1 ? ["main", "env-*"] : ["main"];
  const gate = new GitGate(mirror, "", storage, await coreCompiler(), silent, patterns);
  let t0 = performance.now();
  await gate.refresh();
  const startMs = performance.now() - t0;
  if (gate.environments().length !== followed)
    throw new Error(`expected ${followed} environments, got ${gate.environments().length}`);
  const pushMs: number[] = [];
  const target = followed > 1 ? `env-${Math.ceil(followed / 2)}` : "main";
  for (let p = 0; p < pushes; p++) {
    const sha = commitOn(target, `push ${p} to ${target}`);
    t0 = performance.now();
    const r = await gate.refresh();
    pushMs.push(performance.now() - t0);
    const got = r.branches.find((x) => x.branch === target);
    if (got?.live !== sha) throw new Error(`the push to ${target} did not go live: ${JSON.stringify(got)}`);
  }
  global.gc?.();
  const rss = rssMiB();
  await storage.close();
  // The branches go, so the next scenario starts from main alone.
  for (let b = 1; b < followed; b++) git("branch", "-D", `env-${b}`);
  return { startMs, pushMs, rss };
}

console.log(
  `environments bench: ${total} resources, ${NODES} nodes in main + 1 per other branch, ${pushes} pushes; ${os.cpus().length} cpus, load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
// A first pass warms the process (JIT, module loading): without it the first scenario pays that.
await scenario(1);
const one = await scenario(1);
const many = await scenario(branches);
const line = (label: string, s: typeof one) =>
  console.log(
    `${label.padEnd(14)} start-up ingest ${fmt(s.startMs)} · one push: gate median ${fmt(median(s.pushMs))} (min ${fmt(Math.min(...s.pushMs))}, max ${fmt(Math.max(...s.pushMs))}) · RSS ${s.rss} MiB`,
  );
line("1 branch", one);
line(`${branches} branches`, many);
console.log(
  `push gate time, ${branches} branches / 1 branch: ${(median(many.pushMs) / median(one.pushMs)).toFixed(2)}× (target 0.8–1.2×); load after ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
rmSync(root, { recursive: true, force: true });
