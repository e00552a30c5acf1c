/**
 * The no-op cost of a resource, per kind: N resources of each kind are converged once, then
 * `prefetch` + `check` of all of them (as a plan would run them) is timed RUNS times, and the median
 * per resource is printed beside `file`'s. Kinds: file (1 KiB with content), git (a checkout of a
 * 20-file repository at a sha, and following a branch of a local bare repository: one ls-remote
 * per run), archive (a saved 1 KiB download, and an extracted tar.gz), systemd_unit (unit files in
 * /etc/systemd/system, removed afterwards; where systemd does not run, no systemctl is called).
 * Figures are printed, never asserted. Run as root:
 *
 *   node --import tsx bench/kind-checks.ts [N=200] [RUNS=7]
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kinds } from "../agent/resources/index.js";
import type { Kind } from "../agent/resources/kind.js";
import type { CatalogResource, Json } from "../core/types.js";
import { Contents, context, resource } from "../test/helpers/kind-harness.js";
import { median } from "./lib.js";

const n = Number(process.argv[2] ?? 200);
const runs = Number(process.argv[3] ?? 7);
const root = mkdtempSync(join(tmpdir(), "tend-kind-bench-"));
const stateDir = join(root, "state");
const contents = new Contents();
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const sh = (cwd: string, ...argv: string[]) => {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
};

// A repository of 20 files in a bare remote; an archive and a file served on loopback.
const remote = join(root, "remote.git");
const work = join(root, "work");
sh(root, "git", "init", "-q", "--bare", "-b", "main", remote);
sh(root, "git", "init", "-q", "-b", "main", work);
for (let i = 0; i < 20; i++) writeFileSync(join(work, `f${i}.txt`), `file ${i}\n`.repeat(50));
sh(work, "git", "add", ".");
sh(work, "git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench");
sh(work, "git", "push", "-q", remote, "HEAD:main");
const commit = sh(work, "git", "rev-parse", "HEAD");
const tarball = spawnSync("tar", ["-czf", "-", "-C", work, "--exclude=.git", "."]).stdout;
const blob = Buffer.alloc(1024, "a");
const server = createServer((req, res) => res.end(req.url === "/a.tgz" ? tarball : blob));
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const dir = (name: string) => {
  mkdirSync(join(root, name), { recursive: true });
  return (i: number) => join(root, name, String(i));
};
const unitNames = Array.from({ length: n }, (_, i) => `tendbench-${process.pid}-${i}.service`);
const many = (make: (i: number) => CatalogResource, count = n) =>
  Array.from({ length: count }, (_, i) => make(i));
const fileAt = dir("files");
const shaAt = dir("git-sha");
const branchAt = dir("git-branch");
const savedAt = dir("saved");
const extractedAt = dir("extracted");
const gitCount = Math.min(n, 50);
const workloads: [string, CatalogResource[]][] = [
  ["file", many((i) => resource("file", fileAt(i), { ensure: "file", content_sha256: contents.add(blob) }))],
  ["git (sha)", many((i) => resource("git", shaAt(i), { repository: remote, revision: commit }), gitCount)],
  [
    "git (branch)",
    many((i) => resource("git", branchAt(i), { repository: remote, revision: "main" }), gitCount),
  ],
  [
    "archive (saved)",
    many((i) => resource("archive", savedAt(i), { url: `${origin}/a`, sha256: sha(blob), extract: false })),
  ],
  [
    "archive (extracted)",
    many((i) =>
      resource("archive", extractedAt(i), { url: `${origin}/a.tgz`, sha256: sha(tarball), extract: true }),
    ),
  ],
  [
    "systemd_unit",
    unitNames.map((u) =>
      resource("systemd_unit", u, {
        ensure: "present",
        content_sha256: contents.add(`[Unit]\nDescription=${u}\n`),
      }),
    ),
  ],
];

async function pass(
  kind: Kind,
  rs: CatalogResource[],
  noop: boolean,
  run: Record<string, Json>,
): Promise<number> {
  const started = process.hrtime.bigint();
  const prefetched = kind.prefetch
    ? await kind.prefetch(rs, context({ stateDir, contents, noop, run }))
    : undefined;
  const ctx = context({ stateDir, contents, noop, run, prefetched });
  for (const r of rs) {
    const { changes } = await kind.check(r, ctx);
    if (changes.length > 0 && noop) throw new Error(`${r.id} is not in sync: ${JSON.stringify(changes)}`);
    if (changes.length > 0) await kind.apply(r, changes, ctx);
  }
  return Number(process.hrtime.bigint() - started) / 1e6;
}

try {
  const perResource: Record<string, number> = {};
  for (const [, rs] of workloads) await pass(kinds[rs[0]!.type], rs, false, {});
  // A fetch leaves `git maintenance --auto` running in the background for a moment: let it end.
  await new Promise((r) => setTimeout(r, 3000));
  const times = new Map<string, number[]>(workloads.map(([name]) => [name, []]));
  for (let i = 0; i < runs; i++)
    for (const [name, rs] of workloads) times.get(name)!.push(await pass(kinds[rs[0]!.type], rs, true, {}));
  for (const [name, rs] of workloads) perResource[name] = (median(times.get(name)!) * 1000) / rs.length;
  const file = perResource.file!;
  console.log(`no-op prefetch + check, median of ${runs} runs (N=${n}; git: ${gitCount})`);
  for (const [name, us] of Object.entries(perResource))
    console.log(
      `${name.padEnd(20)} ${us.toFixed(1).padStart(8)} µs/resource  ${(us / file).toFixed(2)}× file`,
    );
} finally {
  server.close();
  for (const u of unitNames) rmSync(join("/etc/systemd/system", u), { force: true });
  rmSync(root, { recursive: true, force: true });
}
