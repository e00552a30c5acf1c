/** `recipes.branches` in server.yaml: checked, defaults kept, `branch:` still works. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { loadConfig } from "../../server/config.js";

const dir = mkdtempSync(join(tmpdir(), "tend-config-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const load = (yaml: string) => {
  const file = join(dir, "server.yaml");
  writeFileSync(file, yaml);
  return loadConfig(file);
};

t.test("branch: X means branches: [X]; the default is main", async (t) => {
  t.match(load("recipes: { repo: /r, branch: production }\n").recipes, {
    branch: "production",
    branches: ["production"],
  });
  t.match(load("recipes: { repo: /r }\n").recipes, { branch: "main", branches: ["main"] });
});

t.test("branches: the first is the default environment", async (t) => {
  t.match(load('recipes: { repo: /r, branches: [main, staging, "feature/*"] }\n').recipes, {
    branch: "main",
    branches: ["main", "staging", "feature/*"],
  });
});

t.test("mistakes are clear errors", async (t) => {
  t.throws(() => load("recipes: { repo: /r, branch: main, branches: [main] }\n"), {
    code: "TEND_E_CONFIG",
    message: /give either branch: or branches:, not both/,
  });
  t.throws(() => load('recipes: { repo: /r, branches: ["feature/*", main] }\n'), {
    code: "TEND_E_CONFIG",
    message: /branches\[0\] is "feature\/\*", a glob/,
  });
  t.throws(() => load("recipes: { repo: /r, branches: [] }\n"), { code: "TEND_E_CONFIG" });
  try {
    load("recipes:\n  repo: /r\n  branches: [main, 'bad branch']\n");
    t.fail("a branch with a space is refused");
  } catch (err) {
    const e = err as { code: string; problems: { line?: number; field?: string }[] };
    t.equal(e.code, "TEND_E_CONFIG");
    t.match(e.problems, [{ line: 3 }], "with its line");
  }
});
