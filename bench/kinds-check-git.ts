/**
 * The no-op cost of a git checkout, beside a file's, on this machine (the test boxes have no git:
 * bench/kinds-check.ts measures the other kinds of issue 12 in one). N files and min(N, 50)
 * checkouts of a 20-file repository are converged once, then `prefetch` + `check` of all of them
 * (as a plan runs them) is timed, wall clock, RUNS times; the median per resource is printed. Two
 * git workloads: at a commit sha (no process at all: .git is read and the tracked files lstat'ed)
 * and following a branch of a local bare repository (plus one `git ls-remote` per run, shared by
 * all the checkouts of the repository). Beside wall time, the CPU time (user + system) of this process,
 * less at the mercy of other work on the machine (git's own processes are not counted in it: the
 * branch workload's ls-remote shows in wall time only). Figures are printed, never asserted.
 *
 *   npx tsx bench/kinds-check-git.ts [N=200] [RUNS=7]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { kinds } from "../agent/resources/index.js";
import type { CatalogResource } from "../core/types.js";
import { Contents, context, resource } from "../test/helpers/kind-harness.js";
import { median } from "./lib.js";

const n = Number(process.argv[2] ?? 200);
const runs = Number(process.argv[3] ?? 7);
const root = mkdtempSync(join(tmpdir(), "tend-bench-git-"));
const stateDir = join(root, "state");
const contents = new Contents();
const sh = (cwd: string, ...argv: string[]) => {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
};

// A repository of 20 files, 500 bytes each, in a bare remote.
const remote = join(root, "remote.git");
const work = join(root, "work");
sh(root, "git", "init", "-q", "--bare", "-b", "main", remote);
sh(root, "git", "init", "-q", "-b", "main", work);
for (let i = 0; i < 20; i++) writeFileSync(join(work, `f${i}.txt`), `file ${i}\n`.repeat(50));
sh(work, "git", "add", ".");
sh(work, "git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench");
sh(work, "git", "push", "-q", remote, "HEAD:main");
const commit = sh(work, "git", "rev-parse", "HEAD");

const under = (name: string) => {
  mkdirSync(join(root, name));
  return (i: number) => join(root, name, String(i));
};
const many = (count: number, make: (i: number) => CatalogResource) =>
  Array.from({ length: count }, (_, i) => make(i));
const [fileAt, shaAt, branchAt] = [under("files"), under("git-sha"), under("git-branch")];
const checkouts = Math.min(n, 50);
const blob = contents.add(Buffer.alloc(1024, "a"));
const workloads: [string, CatalogResource[]][] = [
  ["file", many(n, (i) => resource("file", fileAt(i), { ensure: "file", content_sha256: blob }))],
  ["git (sha)", many(checkouts, (i) => resource("git", shaAt(i), { repository: remote, revision: commit }))],
  [
    "git (branch)",
    many(checkouts, (i) => resource("git", branchAt(i), { repository: remote, revision: "main" })),
  ],
];

/** prefetch + check of every resource (and apply, when not a plan); wall and CPU ms. */
async function pass(rs: CatalogResource[], noop: boolean): Promise<{ wall: number; cpu: number }> {
  const kind = kinds[rs[0]!.type];
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const prefetched = await kind.prefetch?.(rs, context({ stateDir, contents, noop }));
  const ctx = context({ stateDir, contents, noop, prefetched });
  for (const r of rs) {
    const { changes } = await kind.check(r, ctx);
    if (changes.length > 0 && noop) throw new Error(`${r.id} is not in sync: ${JSON.stringify(changes)}`);
    if (changes.length > 0) await kind.apply(r, changes, ctx);
  }
  const used = process.cpuUsage(cpu);
  return { wall: Number(process.hrtime.bigint() - started) / 1e6, cpu: (used.user + used.system) / 1000 };
}

try {
  for (const [, rs] of workloads) await pass(rs, false);
  // A fetch leaves `git maintenance --auto` running in the background for a moment: let it end.
  await new Promise((r) => setTimeout(r, 3000));
  const times = new Map<string, { wall: number; cpu: number }[]>(workloads.map(([name]) => [name, []]));
  // Rounds interleaved across workloads, so that a busy moment of the machine weighs on all of them.
  for (let i = 0; i < runs; i++)
    for (const [name, rs] of workloads) times.get(name)!.push(await pass(rs, true));
  const us = (name: string, rs: CatalogResource[], of: "wall" | "cpu") =>
    (median(times.get(name)!.map((t) => t[of])) * 1000) / rs.length;
  const file = { wall: us("file", workloads[0]![1], "wall"), cpu: us("file", workloads[0]![1], "cpu") };
  console.log(
    `no-op prefetch + check, median of ${runs} runs (${n} files, ${checkouts} checkouts; load ${loadavg()[0]!.toFixed(2)})`,
  );
  for (const [name, rs] of workloads) {
    const [wall, cpu] = [us(name, rs, "wall"), us(name, rs, "cpu")];
    console.log(
      `${name.padEnd(14)} wall ${wall.toFixed(1).padStart(7)} µs/resource  ${(wall / file.wall).toFixed(2)}× file   CPU ${cpu.toFixed(1).padStart(7)} µs  ${(cpu / file.cpu).toFixed(2)}× file`,
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
