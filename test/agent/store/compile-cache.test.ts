/**
 * The compile cache of masterless runs: a second compile of an unchanged repository is a hit with
 * the same catalog; any edit the compiler would see (content of the same size and mtime, a new file,
 * another node, other facts) is a miss that compiles again; a corrupt cache is ignored and rebuilt.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import t from "tap";
import { compileDir } from "../../../agent/compile-local.js";
import { CACHE_FILE, compileCached } from "../../../agent/store/compile-cache.js";
import { CONTENT_DIR } from "../../../agent/store/content-by-hash.js";
import { testFacts as facts, tendArgv } from "../../helpers/catalog.js";

function setup(t: { teardown(fn: () => void): void }) {
  const root = mkdtempSync(join(tmpdir(), "tend-compile-cache-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const repo = join(root, "repo");
  const stateDir = join(root, "state");
  const out = join(root, "out");
  mkdirSync(out);
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(repo, path)), { recursive: true });
    writeFileSync(join(repo, path), text);
  };
  write("nodes.yaml", '- name: "*"\n  recipes: [app]\n');
  write(
    "app/recipe.yaml",
    `vars:\n  greeting: hello\nresources:\n  - file: ${out}/a.txt\n    template: a.liquid\n`,
  );
  write("app/templates/a.liquid", "{{ vars.greeting }} {{ facts.hostname }}\n");
  const compile = async (node = "n1", f = facts) => {
    const c = await compileCached(repo, node, f, stateDir);
    await c.save();
    return c;
  };
  return { root, repo, stateDir, out, write, compile };
}

const textOf = (catalog: { files: Record<string, { text?: string }> }) =>
  Object.values(catalog.files).map((f) => f.text);

t.test("an unchanged repository is a hit with the catalog the compiler makes", async (t) => {
  const s = setup(t);
  const first = await s.compile();
  t.equal(first.hit, false, "the first run compiles");
  const second = await s.compile();
  t.equal(second.hit, true, "the second run loads the cache");
  const want = compileDir(s.repo, "n1", facts);
  t.same({ ...second.catalog, files: {} }, { ...want, files: {} }, "the same catalog");
  t.same(second.catalog.files, {}, "without the contents");
  for (const [sha, f] of Object.entries(want.files))
    t.equal((await second.fetchContent!(sha)).toString("utf8"), f.text, "each content from the store");
  t.equal(statSync(join(s.stateDir, CACHE_FILE)).mode & 0o777, 0o600, "the cache is 0600");
  t.notOk(readFileSync(join(s.stateDir, CACHE_FILE), "utf8").includes("hello test"), "no content in it");
});

t.test("an edit is seen even when size and mtime stay the same", async (t) => {
  const s = setup(t);
  await s.compile();
  const tpl = join(s.repo, "app/templates/a.liquid");
  const before = statSync(tpl);
  s.write("app/templates/a.liquid", "{{ vars.greeting }}!{{ facts.hostname }}\n");
  utimesSync(tpl, before.atime, before.mtime);
  t.equal(statSync(tpl).size, before.size, "same size");
  const after = await s.compile();
  t.equal(after.hit, false);
  t.same(textOf(after.catalog), ["hello!test\n"]);
  t.equal((await s.compile()).hit, true, "and the new catalog is cached");
});

t.test("another node or other facts compile again; a file the compiler never read does not", async (t) => {
  const s = setup(t);
  await s.compile();
  s.write("app/templates/unused.liquid", "x\n");
  t.equal((await s.compile()).hit, true, "a file no recipe uses");
  rmSync(join(s.repo, "app/templates/a.liquid"));
  await t.rejects(
    compileCached(s.repo, "n1", facts, s.stateDir),
    { code: "TEND_E_VALIDATION" },
    "a removed template",
  );
  s.write("app/templates/a.liquid", "{{ vars.greeting }} {{ facts.hostname }}\n");
  t.equal((await s.compile("n2")).hit, false, "another node");
  const other = await s.compile("n2", { ...facts, hostname: "other" });
  t.equal(other.hit, false, "other facts");
  t.same(textOf(other.catalog), ["hello other\n"]);
});

t.test("a corrupt or tampered cache is ignored and rebuilt", async (t) => {
  const s = setup(t);
  const good = await s.compile();
  const path = join(s.stateDir, CACHE_FILE);
  const body = readFileSync(path, "utf8");
  for (const [what, text] of [
    ["torn", body.slice(0, body.length >> 1)],
    ["not JSON", "\0\0garbage"],
    ["a catalog the schema refuses", body.replace('"format":1,"node"', '"format":"one","node"')],
  ] as const) {
    writeFileSync(path, text);
    const c = await compileCached(s.repo, "n1", facts, s.stateDir);
    t.equal(c.hit, false, what);
    t.same(c.catalog, good.catalog, `${what}: the catalog is compiled again`);
    await c.save();
    t.equal((await compileCached(s.repo, "n1", facts, s.stateDir)).hit, true, `${what}: rebuilt`);
  }
});

t.test("tend apply sees a recipe edited since the last run", async (t) => {
  const s = setup(t);
  const apply = () =>
    spawnSync(
      process.execPath,
      tendArgv(["apply", s.repo, "--node", "n1", "--state-dir", s.stateDir, "--json"]),
      { encoding: "utf8" },
    );
  const first = apply();
  t.equal(first.status, 2, first.stderr);
  t.match(readFileSync(join(s.out, "a.txt"), "utf8"), /^hello /);
  t.equal(apply().status, 0, "nothing to do from the cache");
  s.write(
    "app/recipe.yaml",
    `vars:\n  greeting: howdy\nresources:\n  - file: ${s.out}/a.txt\n    template: a.liquid\n`,
  );
  const edited = apply();
  t.equal(edited.status, 2, edited.stderr);
  t.match(readFileSync(join(s.out, "a.txt"), "utf8"), /^howdy /);
});

t.test("a cache file cut short at a line boundary is ignored", async (t) => {
  const s = setup(t);
  await s.compile();
  const path = join(s.stateDir, CACHE_FILE);
  const lines = readFileSync(path, "utf8").split("\n");
  writeFileSync(path, `${lines.slice(0, -2).join("\n")}\n`); // the last resource line is gone
  t.equal((await compileCached(s.repo, "n1", facts, s.stateDir)).hit, false);
});

/** The stored blob of the catalog's one file. */
function blobOf(stateDir: string, sha: string): string {
  return join(stateDir, CONTENT_DIR, sha.slice(0, 2), sha);
}

t.test(
  "contents are kept by sha256, 0600, and a tampered or missing blob is refused and derived again",
  async (t) => {
    const s = setup(t);
    const first = await s.compile();
    const [sha, file] = Object.entries(first.catalog.files)[0]!;
    const blob = blobOf(s.stateDir, sha);
    t.equal(readFileSync(blob, "utf8"), file.text, "stored under content/ab/abcdef…");
    t.equal(statSync(blob).mode & 0o777, 0o600, "blob 0600");
    t.equal(statSync(dirname(blob)).mode & 0o777, 0o700, "shard 0700");

    for (const [what, damage] of [
      ["tampered", () => writeFileSync(blob, "HELLO TEST\n")],
      ["missing", () => rmSync(blob)],
    ] as const) {
      damage();
      const logs: string[] = [];
      const plan = await compileCached(s.repo, "n1", facts, s.stateDir, { log: (m) => logs.push(m) });
      t.equal(plan.hit, true, `${what}: still a hit (blobs are read lazily)`);
      t.equal((await plan.fetchContent!(sha)).toString("utf8"), file.text, `${what}: the right bytes`);
      t.match(logs.join("\n"), /fails its sha256 check; compiling the recipes again/, `${what}: said so`);
      // Without save() (a plan), nothing is written; with it (an apply), the blob is put back.
      t.notOk(
        existsSync(blob) && readFileSync(blob, "utf8") === file.text,
        `${what}: a plan repairs nothing`,
      );
      const apply = await compileCached(s.repo, "n1", facts, s.stateDir);
      await apply.save();
      t.equal((await apply.fetchContent!(sha)).toString("utf8"), file.text);
      t.equal(readFileSync(blob, "utf8"), file.text, `${what}: repaired by an apply`);
    }
  },
);

t.test("a plan does not repair a blob; an unknown content is an error, not a guess", async (t) => {
  const s = setup(t);
  const first = await s.compile();
  const [sha] = Object.keys(first.catalog.files);
  const blob = blobOf(s.stateDir, sha!);
  writeFileSync(blob, "tampered\n");
  const plan = await compileCached(s.repo, "n1", facts, s.stateDir);
  await plan.fetchContent!(sha!);
  t.equal(readFileSync(blob, "utf8"), "tampered\n", "a plan writes nothing");
  await t.rejects(plan.fetchContent!("0".repeat(64)), /no content for sha256 0{64}/);
});

t.test("contents no catalog references any more are pruned, with stray temp files", async (t) => {
  const s = setup(t);
  const first = await s.compile();
  const [oldSha] = Object.keys(first.catalog.files);
  const shard = join(s.stateDir, CONTENT_DIR, "ff");
  mkdirSync(shard, { recursive: true });
  const stray = join(shard, `.${"f".repeat(64)}.0123456789ab.tmp`);
  writeFileSync(stray, "x");
  writeFileSync(join(shard, "README"), "not ours"); // a name tend never makes is left alone
  s.write("app/templates/a.liquid", "{{ vars.greeting }}, {{ facts.hostname }}!\n");
  const second = await s.compile();
  t.equal(second.hit, false);
  const [newSha] = Object.keys(second.catalog.files);
  t.notOk(existsSync(blobOf(s.stateDir, oldSha!)), "the old content is gone");
  t.ok(existsSync(blobOf(s.stateDir, newSha!)), "the new one is there");
  t.notOk(existsSync(stray), "the temp file an interrupted write left is gone");
  t.ok(existsSync(join(shard, "README")));
});

t.test("tend apply converges from a tampered content store", async (t) => {
  const s = setup(t);
  const apply = (...extra: string[]) =>
    spawnSync(
      process.execPath,
      tendArgv(["apply", s.repo, "--node", "n1", "--state-dir", s.stateDir, ...extra]),
      { encoding: "utf8" },
    );
  t.equal(apply().status, 2);
  const target = join(s.out, "a.txt");
  const good = readFileSync(target, "utf8");
  // The CLI compiles with this box's facts: the one blob in the store is the file's content.
  const shards = readdirSync(join(s.stateDir, CONTENT_DIR));
  t.equal(shards.length, 1);
  const sha = readdirSync(join(s.stateDir, CONTENT_DIR, shards[0]!))[0]!;
  writeFileSync(blobOf(s.stateDir, sha), "planted by someone else\n");
  writeFileSync(target, "drifted\n");
  const plan = spawnSync(
    process.execPath,
    tendArgv(["plan", s.repo, "--node", "n1", "--state-dir", s.stateDir]),
    { encoding: "utf8" },
  );
  t.equal(plan.status, 2, plan.stderr);
  t.match(plan.stdout, /\+hello /, "the plan's diff shows the real content");
  t.notMatch(plan.stdout, /planted/);
  const repair = apply();
  t.equal(repair.status, 2, repair.stderr);
  t.match(repair.stderr, /compiling the recipes again/);
  t.equal(readFileSync(target, "utf8"), good, "the file has the recipes' content, not the planted one");
  t.equal(readFileSync(blobOf(s.stateDir, sha), "utf8"), good, "and the blob is repaired");
  t.equal(apply().status, 0, "then nothing to do");
});
