/**
 * Per-resource cost of the no-op check of each resource kind of issue 12, beside `file`'s (target:
 * no kind above twice file's). In a test box (its /etc is the box's): N resources of each kind are
 * converged once, then checked as a no-op run checks them (one prefetch, a check per resource), the
 * median of ROUNDS rounds printed in CPU microseconds (user + system) per resource. apt_repository resources all point
 * at one real signed repository served from 127.0.0.1. In-process timings (no CLI start-up, no
 * catalog): the whole-run figure is bench/noop.ts's. Prints, never asserts. Needs root and
 * systemd-nspawn (test/boxes).
 *
 *   npx tsx bench/kinds-check.ts [N=200] [ROUNDS=7] [N_APT=20]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { Box } from "../test/boxes/lib/index.js";
import { serveAptRepo } from "../test/helpers/apt-repo.js";
import { repoRoot } from "./lib.js";

const [n = "200", rounds = "7", nApt = "20"] = process.argv.slice(2);
const dir = mkdtempSync("/var/tmp/tend-bench-kinds-");
const repo = await serveAptRepo(dir, { name: "tendtest-hello", version: "1.0" });
execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "key")]);
const pub = readFileSync(join(dir, "key.pub"), "utf8").trim();
const modules = realpathSync(join(repoRoot, "node_modules"));
const box = await Box.boot({
  hostname: "bench-kinds",
  binds: [
    { host: process.execPath, box: "/usr/local/bin/node", readOnly: true },
    { host: repoRoot, box: "/opt/tend", readOnly: true },
    ...(modules.startsWith(repoRoot) ? [] : [{ host: modules, box: modules, readOnly: true }]),
  ],
});
try {
  await box.writeFile("/root/repo-key.asc", repo.key.armored);
  const out = await box.run(
    [
      "node",
      "--import",
      "/opt/tend/node_modules/tsx/dist/esm/index.mjs",
      "/opt/tend/bench/kinds-check-box.ts",
    ],
    {
      env: {
        N: n,
        ROUNDS: rounds,
        N_APT: nApt,
        REPO_URL: repo.url,
        REPO_FPR: repo.key.fingerprint,
        BENCH_PUB: pub,
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
  rmSync(dir, { recursive: true, force: true });
}
