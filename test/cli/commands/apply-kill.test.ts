/**
 * Crash safety (TRUST.md G1): `tend apply` rewriting 2,000 files is killed with SIGKILL at random
 * moments, 20 times. After every kill each file is whole (its old or its new content, never a mix
 * or a truncation); after the next full run every file converged and no temp file survives.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import type { Catalog } from "../../../core/types.js";
import { catalog, resource, sha256, tendArgv } from "../../helpers/catalog.js";

const FILES = 2000;
const DIRS = 20;
const KILLS = 20;

// On tmpfs when there is one: a SIGKILL tests the process's crash safety, not the disk's (fsync is
// a no-op there), and 22 full rewrites stay within the test's time.
const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const dir = mkdtempSync(join(base, "tend-kill-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const stateDir = join(dir, "state");
const paths = Array.from({ length: FILES }, (_, i) => join(dir, `d${i % DIRS}`, `f${i}.conf`));
const text = (i: number, version: number) => `file ${i}, version ${version}\n${"x".repeat(200 + (i % 50))}\n`;

function versionCatalog(version: number): Catalog {
  const texts = paths.map((_, i) => text(i, version));
  const resources = paths.map((p, i) =>
    resource("file", p, { ensure: "file", content_sha256: sha256(texts[i]!), mode: "0644" }),
  );
  return catalog(resources, texts);
}

const catalogPaths = [0, 1].map((v) => {
  const p = join(dir, `catalog-${v}.json`);
  writeFileSync(p, JSON.stringify(versionCatalog(v)));
  return p;
});

const big = { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 } as const;
const apply = (version: number) =>
  tendArgv(["apply", "--catalog", catalogPaths[version]!, "--state-dir", stateDir]);

/** Which version each file holds; throws on a file that is neither (torn, empty, missing). */
function versions(): number[] {
  return paths.map((p, i) => {
    const have = readFileSync(p, "utf8");
    if (have === text(i, 0)) return 0;
    if (have === text(i, 1)) return 1;
    throw new Error(`${p} is neither version: ${JSON.stringify(have.slice(0, 40))}… (${have.length} bytes)`);
  });
}

function temps(): string[] {
  const found: string[] = [];
  for (let d = 0; d < DIRS; d++)
    for (const f of readdirSync(join(dir, `d${d}`))) if (!f.endsWith(".conf")) found.push(f);
  return found;
}

t.test("kill -9 at random moments never leaves a partial file, and the next run converges", async (t) => {
  for (let d = 0; d < DIRS; d++) mkdirSync(join(dir, `d${d}`));
  paths.forEach((p, i) => {
    writeFileSync(p, text(i, 0));
  });

  // One whole run first: how long a rewrite of every file takes here sets the window for kills.
  const started = Date.now();
  const full = spawnSync(process.execPath, apply(1), big);
  const window = Date.now() - started;
  if (full.status !== 2) t.comment(full.stderr || full.stdout.slice(-2000));
  t.equal(full.status, 2, "a full run rewrites every file");
  t.ok(versions().every((v) => v === 1));

  const seen = { killedMidway: 0 };
  for (let k = 0; k < KILLS; k++) {
    const version = k % 2;
    const child = spawn(process.execPath, apply(version), { stdio: "ignore" });
    const delay = Math.floor(Math.random() * window);
    await new Promise((r) => setTimeout(r, delay));
    child.kill("SIGKILL");
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.on("exit", r)));
    const now = versions(); // throws on a torn file
    if (new Set(now).size === 2) seen.killedMidway++;
  }
  t.pass(`${KILLS} kills, every file whole after each (${seen.killedMidway} of them mid-rewrite)`);

  const last = (KILLS - 1) % 2;
  const converge = spawnSync(process.execPath, apply(last), big);
  if (converge.status !== 0 && converge.status !== 2)
    t.comment(converge.stderr || converge.stdout.slice(-2000));
  t.ok(converge.status === 0 || converge.status === 2, "the next run succeeds");
  t.ok(
    versions().every((v) => v === last),
    "every file converged",
  );
  t.same(temps(), [], "no temp file survives the next run");
  const again = spawnSync(process.execPath, apply(last), big);
  t.equal(again.status, 0, "and the run after that changes nothing");
  t.match(again.stdout, new RegExp(`^${FILES} unchanged in `, "m"));
});
