/**
 * The compile cache of masterless runs: a second compile of an unchanged repository is a hit with
 * the same catalog; any edit the compiler would see (content of the same size and mtime, a new file,
 * another node, other facts) is a miss that compiles again; a corrupt cache is ignored and rebuilt.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import t from "tap";
import { CACHE_FILE, compileCached } from "../../agent/compile-cache.js";
import { compileDir } from "../../agent/compile-local.js";
import { testFacts as facts, tendArgv } from "../helpers/catalog.js";

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
  t.same(second.catalog, compileDir(s.repo, "n1", facts));
  t.equal(statSync(join(s.stateDir, CACHE_FILE)).mode & 0o777, 0o600, "the cache is 0600");
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
