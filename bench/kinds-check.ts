/**
 * Per-resource cost of the no-op check of each resource kind of issue 12, beside `file`'s (target:
 * no kind above twice file's). In a test box (its /etc is the box's): N resources of each kind are
 * converged once, then checked as a no-op run checks them (one prefetch, a check per resource), the
 * median of ROUNDS rounds printed in CPU microseconds (user + system) per resource. apt_repository resources all point
 * at one real signed repository served from 127.0.0.1, archives at files served from here too. The
 * CPU of child processes (systemctl, git) is not counted: git, which the box image lacks, is
 * measured in wall time on the host by bench/kinds-check-git.ts. In-process timings (no CLI start-up, no
 * catalog): the whole-run figure is bench/noop.ts's. Prints, never asserts. Needs root and
 * systemd-nspawn (test/boxes).
 *
 *   npx tsx bench/kinds-check.ts [N=200] [ROUNDS=7] [N_APT=20] [--kinds=sysctl,cron] [--cpu-prof=DIR]
 *
 * `--kinds` measures only those kinds (and file, the yardstick); `--cpu-prof` writes a V8 CPU
 * profile of the process in the box, sampled every 100 µs, to DIR on the host (Chrome DevTools opens it).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { join } from "node:path";
import { Box } from "../test/boxes/lib/index.js";
import { serveAptRepo } from "../test/helpers/apt-repo.js";
import { repoRoot } from "./lib.js";

const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const [n = "200", rounds = "7", nApt = "20"] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const profDir = flag("cpu-prof");
if (profDir) mkdirSync(profDir, { recursive: true });
const dir = mkdtempSync("/var/tmp/tend-bench-kinds-");
const repo = await serveAptRepo(dir, { name: "tendtest-hello", version: "1.0" });
execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "key")]);
const pub = readFileSync(join(dir, "key.pub"), "utf8").trim();
// The archives' downloads, served from here (the box shares the host's network).
const blob = Buffer.alloc(1024, "a");
const tgz = execFileSync("tar", ["-czf", "-", "-C", repoRoot, "bench"]);
const files = createServer((req, res) => res.end(req.url === "/app.tgz" ? tgz : blob));
await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const modules = realpathSync(join(repoRoot, "node_modules"));
const box = await Box.boot({
  hostname: "bench-kinds",
  binds: [
    { host: process.execPath, box: "/usr/local/bin/node", readOnly: true },
    { host: repoRoot, box: "/opt/tend", readOnly: true },
    ...(modules.startsWith(repoRoot) ? [] : [{ host: modules, box: modules, readOnly: true }]),
    ...(profDir ? [{ host: realpathSync(profDir), box: "/prof", readOnly: false }] : []),
  ],
});
try {
  await box.writeFile("/root/repo-key.asc", repo.key.armored);
  const out = await box.run(
    [
      "node",
      ...(profDir ? ["--cpu-prof", "--cpu-prof-dir=/prof", "--cpu-prof-interval=100"] : []),
      "--import",
      "/opt/tend/node_modules/tsx/dist/esm/index.mjs",
      "/opt/tend/bench/kinds-check-box.ts",
    ],
    {
      env: {
        N: n,
        ROUNDS: rounds,
        N_APT: nApt,
        ...(flag("kinds") ? { KINDS: flag("kinds")! } : {}),
        REPO_URL: repo.url,
        REPO_FPR: repo.key.fingerprint,
        BENCH_PUB: pub,
        ARCHIVE_URL: `http://127.0.0.1:${(files.address() as AddressInfo).port}`,
        BLOB_SHA: sha(blob),
        TGZ_SHA: sha(tgz),
      },
    },
  );
  const figures = JSON.parse(out) as Record<string, { resources: number; us_per_resource: number }>;
  const file = figures.file!.us_per_resource;
  console.log(`no-op check, CPU per resource, median of ${rounds} rounds (load ${loadavg()[0]!.toFixed(2)})`);
  for (const [kind, f] of Object.entries(figures))
    console.log(
      `${kind.padEnd(16)} ${String(f.resources).padStart(5)} resources  ${String(f.us_per_resource).padStart(6)} µs  ${(f.us_per_resource / file).toFixed(2)}× file`,
    );
} finally {
  await box.remove();
  await repo.close();
  files.close();
  rmSync(dir, { recursive: true, force: true });
}
