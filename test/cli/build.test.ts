// The built CLI (what `npm ci` makes and bin/tend.js runs) works, not only the sources under tsx:
// a bundling mistake (an import esbuild cannot follow) would otherwise only show in production.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { repoRoot } from "../helpers/cli.js";

const out = mkdtempSync(join(tmpdir(), "tend-build-"));
const built = spawnSync(process.execPath, [join(repoRoot, "scripts", "build.mjs"), out], {
  cwd: repoRoot,
  encoding: "utf8",
});

const run = (args: string[]) =>
  spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const m = await import(${JSON.stringify(join(out, "tend.js"))}); process.exitCode = await m.run(${JSON.stringify(args)});`,
    ],
    {
      cwd: repoRoot,
      encoding: "utf8",
    },
  );

t.test("the build succeeds", async (t) => {
  t.equal(built.status, 0, built.stderr);
});

t.test("every dynamic import in the bundle names a literal module", async (t) => {
  const files = [
    join(out, "tend.js"),
    ...readdirSync(join(out, "chunks")).map((f) => join(out, "chunks", f)),
  ];
  const computed = files.flatMap((f) =>
    [...readFileSync(f, "utf8").matchAll(/\bimport\(\s*([a-zA-Z_$][\w$]*)\s*\)/g)].map(
      (m) => `${f}: import(${m[1]})`,
    ),
  );
  t.same(computed, [], "an import(variable) is not bundled and fails at run time");
});

t.test("the built tend validates and compiles the example recipes", async (t) => {
  const v = run(["validate", "recipes"]);
  t.equal(v.status, 0, v.stderr);
  t.match(v.stdout, /^ok: recipes: /);
  const c = run(["compile", "recipes", "--node", "web-1"]);
  t.equal(c.status, 0, c.stderr);
  t.equal(JSON.parse(c.stdout).node, "web-1");
  const version = run(["--version"]);
  t.match(version.stdout, /^tend \d+\.\d+\.\d+/);
});
