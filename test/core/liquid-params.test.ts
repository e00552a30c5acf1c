// Liquid in the attributes a kind's spec names (a git checkout's repository and revision, an apt
// repository's uris): rendered per node from vars and facts, the rendered value checked against the
// attribute's pattern with file:line, syntax errors found by `tend validate`, and every other
// attribute (an exec's command) left as written.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import t from "tap";
import { fsRepo } from "../../agent/repo-fs.js";
import { compile } from "../../core/compile.js";
import { formatProblem } from "../../core/errors.js";
import { isValid } from "../../core/schema.js";
import type { Catalog } from "../../core/types.js";
import { validateRepo } from "../../core/validate.js";
import { sampleFacts } from "../helpers/facts.js";

const made: string[] = [];
t.teardown(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function repo(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "tend-liquid-params-"));
  made.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const nodes = [
  '- name: "*"',
  "  recipes: [app]",
  '- name: "app-2"',
  "  vars: { app_repo: http://127.0.0.1:9418/app.git, mirror: [http://127.0.0.1:9000/debian] }",
  "",
].join("\n");

const recipe = (attrs: string) =>
  [
    "vars:",
    "  app_repo: https://git.example.com/app.git",
    "  app_branch: main",
    "  mirror: [https://apt.example.com/debian]",
    "resources:",
    "  - git: /srv/app",
    `    ${attrs}`,
    '    revision: "{{ vars.app_branch }}-{{ facts.os.id }}"',
    "  - apt_repository: vendor",
    '    uris: ["{{ vars.mirror[0] }}", https://fixed.example.com/]',
    "    suites: stable",
    "  - exec: \"docker inspect --format '{{.State}}' app\"",
    "",
  ].join("\n");

function build(dir: string, node: string): Catalog {
  const { catalog, problems } = compile(fsRepo(dir), node, sampleFacts());
  if (!catalog) throw new Error(problems.map(formatProblem).join("\n"));
  return catalog;
}

t.test("a node's vars and facts reach the attributes that take Liquid", async (t) => {
  const dir = repo({
    "nodes.yaml": nodes,
    "app/recipe.yaml": recipe('repository: "{{ vars.app_repo }}"'),
  });
  t.same(validateRepo(fsRepo(dir)).problems, [], "validate takes the recipe");
  const one = build(dir, "app-1");
  const two = build(dir, "app-2");
  const params = (c: Catalog, id: string) => c.resources.find((r) => r.id === id)?.params;
  t.match(params(one, "git:/srv/app"), {
    repository: "https://git.example.com/app.git",
    revision: "main-debian",
  });
  t.match(params(two, "git:/srv/app"), { repository: "http://127.0.0.1:9418/app.git" });
  t.same(params(one, "apt_repository:vendor")?.uris, [
    "https://apt.example.com/debian",
    "https://fixed.example.com/",
  ]);
  t.same(params(two, "apt_repository:vendor")?.uris, [
    "http://127.0.0.1:9000/debian",
    "https://fixed.example.com/",
  ]);
  t.same(
    params(one, "exec:docker inspect --format '{{.State}}' app")?.argv,
    ["docker", "inspect", "--format", "{{.State}}", "app"],
    "an attribute that takes no Liquid is left as written",
  );
  t.not(
    one.resources.find((r) => r.id === "git:/srv/app")?.digest,
    two.resources.find((r) => r.id === "git:/srv/app")?.digest,
    "the digest is of the rendered params",
  );
  t.ok(isValid("catalog", one), "the catalog is valid");
});

t.test("an undefined variable is an error at the attribute, naming the node", async (t) => {
  const dir = repo({
    "nodes.yaml": nodes,
    "app/recipe.yaml": recipe('repository: "{{ vars.app_url }}"'),
  });
  const problems = compile(fsRepo(dir), "app-1", sampleFacts()).problems.map(formatProblem);
  t.equal(problems.length, 1);
  t.match(
    problems[0],
    /^app\/recipe\.yaml:7:17: resources\[0\]\.repository: template: undefined variable: vars\.app_url .*\(rendering git:\/srv\/app for node app-1\) \[TEND_E_TEMPLATE_RENDER\]$/,
  );
});

t.test("a rendered value that its attribute's pattern refuses is an error, not a bad catalog", async (t) => {
  const dir = repo({
    "nodes.yaml": `${nodes}- name: app-3\n  vars: { app_repo: "--upload-pack=touch /tmp/x" }\n`,
    "app/recipe.yaml": recipe('repository: "{{ vars.app_repo }}"'),
  });
  const problems = compile(fsRepo(dir), "app-3", sampleFacts()).problems.map(formatProblem);
  t.equal(problems.length, 1);
  t.match(
    problems[0],
    /^app\/recipe\.yaml:7:17: resources\[0\]\.repository: "\{\{ vars\.app_repo \}\}" renders to "--upload-pack=touch \/tmp\/x" for node app-3, which is not a valid repository .*\[TEND_E_SCHEMA\]$/,
  );
});

t.test(
  "tend validate finds a Liquid syntax error in an attribute, and the schema still checks the rest",
  async (t) => {
    const broken = repo({
      "nodes.yaml": nodes,
      "app/recipe.yaml": recipe('repository: "{{ vars.app_repo "'),
    });
    const found = validateRepo(fsRepo(broken)).problems.map(formatProblem);
    t.equal(found.length, 1, found.join("\n"));
    t.match(
      found[0],
      /^app\/recipe\.yaml:7:17: resources\[0\]\.repository: template: .*\[TEND_E_TEMPLATE_SYNTAX\]$/,
    );
    const plain = repo({
      "nodes.yaml": nodes,
      "app/recipe.yaml": recipe("repository: -not-a-url"),
    });
    t.match(
      validateRepo(fsRepo(plain)).problems.map(formatProblem).join("\n"),
      /app\/recipe\.yaml:7:\d+: resources\[0\]\.repository: /,
      "text without Liquid is held to the attribute's pattern as before",
    );
  },
);
