// Issue 15's rough edge: a 600 MB `source:` passed validate, then plan died building a string of
// it. Recipe files over the limit (64 MiB by default) are refused before they are read, with the
// resource's place, by validate, plan and apply alike. A large file within the limit streams: hashed
// and copied in chunks, never held whole in memory.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import t, { type Test } from "tap";
import { repoRoot, tend, tendArgv } from "../../helpers/cli.js";

/** A repository whose `big` recipe copies files/big.bin (`size` bytes, sparse: no disk used). */
function repoWithFile(t: Test, size: number, how: "source" | "template" = "source"): string {
  const dir = mkdtempSync(join(tmpdir(), "tend-large-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "big/files"), { recursive: true });
  mkdirSync(join(dir, "big/templates"), { recursive: true });
  writeFileSync(join(dir, "nodes.yaml"), '- name: "*"\n  recipes: [big]\n');
  const attr = how === "source" ? "source: files/big.bin" : "template: big.liquid";
  writeFileSync(
    join(dir, "big/recipe.yaml"),
    `description: a large file\nresources:\n  - file: /tmp/tend-large-test/motd\n    content: "hi\\n"\n  - file: /tmp/tend-large-test/big.bin\n    ${attr}\n`,
  );
  const path = how === "source" ? join(dir, "big/files/big.bin") : join(dir, "big/templates/big.liquid");
  writeFileSync(path, "");
  truncateSync(path, size);
  return dir;
}

const MB600 = 600 * 1024 * 1024;

t.test("validate refuses a 600 MB source with its place and the way out, without reading it", async (t) => {
  const dir = repoWithFile(t, MB600);
  const r = tend(["validate", dir]);
  t.equal(r.code, 1, r.stderr);
  t.match(
    r.stderr,
    /^big\/recipe\.yaml:6:\d+: resources\[1\]\.source: source "files\/big\.bin" \(big\/files\/big\.bin\) is 600\.0 MiB, over the 64\.0 MiB a recipe file may hold; serve a large artifact with an `archive` resource .*\[TEND_E_FILE_TOO_LARGE\]$/m,
  );
  t.notMatch(r.stderr, /\n\s+at |0x1fffffe8/, "no stack trace, no string overflow");
});

t.test("plan and apply refuse it the same way, and apply changes nothing", async (t) => {
  const dir = repoWithFile(t, MB600);
  for (const cmd of ["plan", "apply"]) {
    const state = mkdtempSync(join(tmpdir(), "tend-large-state-"));
    t.teardown(() => rmSync(state, { recursive: true, force: true }));
    const r = tend([cmd, dir, "--node", "web-1", "--state-dir", state]);
    t.not(r.code, 0, `${cmd} fails`);
    t.match(r.stderr, /big\/recipe\.yaml:6:\d+: .*600\.0 MiB.*\[TEND_E_FILE_TOO_LARGE\]/, cmd);
    t.notMatch(r.stderr, /\n\s+at |0x1fffffe8/, `${cmd}: no stack trace`);
  }
  t.notOk(existsSync("/tmp/tend-large-test"), "apply wrote nothing");
});

t.test("a large template is refused too", async (t) => {
  const dir = repoWithFile(t, 70 * 1024 * 1024, "template");
  const r = tend(["validate", dir]);
  t.equal(r.code, 1);
  t.match(
    r.stderr,
    /template "big\.liquid" \(big\/templates\/big\.liquid\) is 70\.0 MiB.*\[TEND_E_FILE_TOO_LARGE\]/,
  );
});

t.test("the limit is configurable: TEND_MAX_FILE_BYTES", async (t) => {
  const dir = repoWithFile(t, 3000);
  t.equal(tend(["validate", dir]).code, 0, "3000 bytes are fine by default");
  const low = tend(["validate", dir], { env: { TEND_MAX_FILE_BYTES: "2048" } });
  t.equal(low.code, 1);
  t.match(low.stderr, /is 2\.9 KiB, over the 2\.0 KiB a recipe file may hold/);
  t.equal(
    tend(["validate", dir], { env: { TEND_MAX_FILE_BYTES: "3000" } }).code,
    0,
    "a file at the limit passes",
  );
});

/** A repository whose `big` recipe copies files/big.bin (the given bytes) to `target`. */
function repoWithBytes(t: Test, target: string, bytes: Buffer | number): string {
  const dir = repoWithFile(t, 0);
  writeFileSync(
    join(dir, "big/recipe.yaml"),
    `description: a large file\nresources:\n  - file: ${target}\n    source: files/big.bin\n    mode: "0644"\n`,
  );
  const path = join(dir, "big/files/big.bin");
  if (typeof bytes === "number") truncateSync(path, bytes);
  else writeFileSync(path, bytes);
  return dir;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

t.test(
  "a large source streams: copied in chunks, stored, repaired with a backup, diffed by size",
  async (t) => {
    const out = mkdtempSync(join(tmpdir(), "tend-large-out-"));
    const state = mkdtempSync(join(tmpdir(), "tend-large-state-"));
    t.teardown(() => {
      rmSync(out, { recursive: true, force: true });
      rmSync(state, { recursive: true, force: true });
    });
    const target = join(out, "big.bin");
    const big = randomBytes(3 * 1024 * 1024); // over STREAM_FILE_BYTES, and not UTF-8
    const dir = repoWithBytes(t, target, big);
    const args = [dir, "--node", "web-1", "--state-dir", state];

    const first = tend(["apply", ...args]);
    t.equal(first.code, 2, first.stderr);
    t.ok(readFileSync(target).equals(big), "written byte for byte");
    t.ok(
      readFileSync(join(state, "content", sha(big).slice(0, 2), sha(big))).equals(big),
      "the content store keeps it (copied from the recipe folder in chunks)",
    );
    t.equal(tend(["apply", ...args]).code, 0, "from the compile cache: nothing to do");

    // Drift: another large content in its place.
    const other = randomBytes(2 * 1024 * 1024);
    writeFileSync(target, other);
    const plan = tend(["plan", ...args]);
    t.equal(plan.code, 2, plan.stderr);
    t.match(plan.stdout, /content differs \(2097152 → 3145728 bytes; too large to diff\)/);
    const fix = tend(["apply", ...args]);
    t.equal(fix.code, 2, fix.stderr);
    t.ok(readFileSync(target).equals(big), "repaired from the content store");
    const backups = JSON.parse(tend(["backup", "list", target, "--state-dir", state, "--json"]).stdout) as {
      sha256: string;
      size: number;
    }[];
    t.match(backups[0], { sha256: sha(other), size: other.length }, "what was there is backed up, whole");

    // A torn blob in the content store is never copied: the recipe folder's file is used instead.
    writeFileSync(join(state, "content", sha(big).slice(0, 2), sha(big)), Buffer.alloc(big.length, 7));
    writeFileSync(target, "drifted\n");
    const torn = tend(["apply", ...args]);
    t.equal(torn.code, 2, torn.stderr);
    t.ok(readFileSync(target).equals(big), "repaired byte for byte despite the torn blob");
  },
);

/** Peak resident memory (KiB) of `tend ARGS`: getrusage's maxRSS, written at exit by a preload. */
function peakKiB(
  args: string[],
  env: NodeJS.ProcessEnv,
): { code: number | null; kib: number; stderr: string } {
  const file = join(mkdtempSync(join(tmpdir(), "tend-peak-")), "kib");
  const r = spawnSync(process.execPath, tendArgv(args, true), {
    cwd: repoRoot,
    env: { ...process.env, ...env, TEND_TEST_PEAK_FILE: file },
    encoding: "utf8",
    timeout: 300_000,
  });
  const kib = existsSync(file) ? Number(readFileSync(file, "utf8")) : Number.NaN;
  rmSync(dirname(file), { recursive: true, force: true });
  return { code: r.status, kib, stderr: r.stderr };
}

t.test("memory does not grow with a file's size: 256 MiB applied beside a 2 MiB one", async (t) => {
  const env = { TEND_MAX_FILE_BYTES: String(300 * 1024 * 1024) };
  const run = (size: number) => {
    const out = mkdtempSync(join(tmpdir(), "tend-large-out-"));
    const state = mkdtempSync(join(tmpdir(), "tend-large-state-"));
    t.teardown(() => {
      rmSync(out, { recursive: true, force: true });
      rmSync(state, { recursive: true, force: true });
    });
    const target = join(out, "big.bin");
    const dir = repoWithBytes(t, target, size);
    const r = peakKiB(["apply", dir, "--node", "web-1", "--state-dir", state], env);
    t.equal(r.code, 2, r.stderr);
    t.equal(statSync(target).size, size, `${size} bytes written`);
    return r.kib;
  };
  const small = run(2 * 1024 * 1024);
  const large = run(256 * 1024 * 1024);
  t.ok(Number.isFinite(small) && Number.isFinite(large), "both peaks measured");
  // Held whole even once, 256 MiB would add at least 262,144 KiB; streamed, the buffers stay a few MiB.
  t.ok(
    large - small < 96 * 1024,
    `peak RSS ${Math.round(small / 1024)} MiB for 2 MiB, ${Math.round(large / 1024)} MiB for 256 MiB`,
  );
});
