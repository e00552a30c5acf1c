// Health checks through the compiler: ids, defaults and durations, Liquid rendered per node,
// `require` (default: the check's own recipe), duplicates merged or refused, and a catalog without
// checks unchanged. Broken checks (one fixture per class of mistake) are in broken-repos.test.ts.
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
  const dir = mkdtempSync(join(tmpdir(), "tend-checks-"));
  made.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function build(dir: string, node = "web-1"): Catalog {
  const { catalog, problems } = compile(fsRepo(dir), node, sampleFacts());
  if (!catalog) throw new Error(problems.map(formatProblem).join("\n"));
  return catalog;
}

function problems(dir: string, node = "web-1"): string[] {
  return compile(fsRepo(dir), node, sampleFacts()).problems.map(formatProblem);
}

const nodes = '- name: "*"\n  recipes: [web]\n';

t.test("each kind of check gets its id, its defaults and its durations in ms", async (t) => {
  const dir = repo({
    "nodes.yaml": nodes,
    "web/recipe.yaml": `
resources:
  - package: nginx
checks:
  - http: http://127.0.0.1:8080/healthz
    status: 200
    contains: ok
    timeout: 5s
    retries: 5
    interval: 2s
  - tcp: 127.0.0.1:5432
    timeout: 1.5
  - tcp: "[::1]:6379"
    interval: 250ms
  - command: [pg_isready, -q]
  - command: test -e "/etc/my file"
    name: my file exists
    timeout: 2m
`,
  });
  const c = build(dir);
  t.ok(isValid("catalog", c), "the catalog passes the catalog schema");
  t.same(c.checks, [
    {
      id: "http:http://127.0.0.1:8080/healthz",
      type: "http",
      url: "http://127.0.0.1:8080/healthz",
      status: 200,
      contains: "ok",
      timeout_ms: 5000,
      retries: 5,
      interval_ms: 2000,
      require: ["package:nginx"],
      source: "web/recipe.yaml:5",
    },
    {
      id: "tcp:127.0.0.1:5432",
      type: "tcp",
      host: "127.0.0.1",
      port: 5432,
      timeout_ms: 1500,
      retries: 0,
      interval_ms: 1000,
      require: ["package:nginx"],
      source: "web/recipe.yaml:11",
    },
    {
      id: "tcp:[::1]:6379",
      type: "tcp",
      host: "::1",
      port: 6379,
      timeout_ms: 10000,
      retries: 0,
      interval_ms: 250,
      require: ["package:nginx"],
      source: "web/recipe.yaml:13",
    },
    {
      id: "command:pg_isready -q",
      type: "command",
      argv: ["pg_isready", "-q"],
      timeout_ms: 10000,
      retries: 0,
      interval_ms: 1000,
      require: ["package:nginx"],
      source: "web/recipe.yaml:15",
    },
    {
      id: "my file exists",
      type: "command",
      argv: ["test", "-e", "/etc/my file"],
      timeout_ms: 120000,
      retries: 0,
      interval_ms: 1000,
      require: ["package:nginx"],
      source: "web/recipe.yaml:16",
    },
  ]);
});

t.test("a catalog without checks has no checks key at all (agents before checks accept it)", async (t) => {
  const dir = repo({ "nodes.yaml": nodes, "web/recipe.yaml": "resources:\n  - package: nginx\n" });
  const c = build(dir);
  t.notOk("checks" in c);
  const empty = repo({
    "nodes.yaml": nodes,
    "web/recipe.yaml": "resources:\n  - package: nginx\nchecks: []\n",
  });
  t.notOk("checks" in build(empty), "an empty list is no checks");
});

t.test("a check follows its own recipe's resources by default, or its own require", async (t) => {
  const dir = repo({
    "nodes.yaml": nodes,
    "base/recipe.yaml": "resources:\n  - package: curl\n  - package: nginx\n",
    "web/recipe.yaml": `
include: [base]
resources:
  - package: nginx
  - file: /etc/nginx/nginx.conf
    content: x
checks:
  - tcp: 127.0.0.1:80
  - tcp: 127.0.0.1:443
    require: [package:curl]
  - tcp: 127.0.0.1:8443
    require: []
`,
  });
  const c = build(dir);
  t.same(
    c.checks?.map((k) => [k.id, k.require]),
    [
      ["tcp:127.0.0.1:80", ["package:nginx", "file:/etc/nginx/nginx.conf"]],
      ["tcp:127.0.0.1:443", ["package:curl"]],
      ["tcp:127.0.0.1:8443", []],
    ],
    "own resources (a merged duplicate included), not the included recipe's",
  );
});

t.test("Liquid in a check's fields is rendered for each node with vars, facts and node", async (t) => {
  const dir = repo({
    "nodes.yaml": `${nodes}- name: web-2\n  vars: { port: 9090 }\n`,
    "web/recipe.yaml": `
vars: { port: 8080 }
checks:
  - http: "http://{{ facts.ipv4 | first }}:{{ vars.port }}/status"
    contains: "{{ node }}"
  - command: [check-peer, "{{ node }}"]
    name: "peer of {{ node }}"
`,
  });
  const one = build(dir, "web-1").checks!;
  t.same(
    one.map((k) => [k.id, k.url ?? k.argv, k.contains ?? null]),
    [
      ["http:http://10.0.0.5:8080/status", "http://10.0.0.5:8080/status", "web-1"],
      ["peer of web-1", ["check-peer", "web-1"], null],
    ],
  );
  t.equal(build(dir, "web-2").checks![0]!.url, "http://10.0.0.5:9090/status", "the node's vars win");
  t.same(validateRepo(fsRepo(dir)).problems, [], "validate parses the templates without rendering them");
});

t.test("a check rendered into something unusable is located, for that node", async (t) => {
  const dir = repo({
    "nodes.yaml": `${nodes}- name: web-2\n  vars: { target: "db:postgres" }\n`,
    "web/recipe.yaml": 'vars: { target: "db:5432" }\nchecks:\n  - tcp: "{{ vars.target }}"\n',
  });
  t.equal(build(dir, "web-1").checks![0]!.id, "tcp:db:5432");
  t.same(problems(dir, "web-2"), [
    'web/recipe.yaml:3:10: checks[0].tcp: "db:postgres" is not HOST:PORT; write e.g. 127.0.0.1:5432, or [::1]:5432 (rendered for node web-2) [TEND_E_CHECK]',
  ]);
});

t.test("the same check in two recipes is merged when identical, refused when different", async (t) => {
  const dir = repo({
    "nodes.yaml": '- name: "*"\n  recipes: [a, b]\n',
    "a/recipe.yaml": "resources:\n  - package: curl\nchecks:\n  - tcp: 127.0.0.1:22\n",
    "b/recipe.yaml": "resources:\n  - package: wget\nchecks:\n  - tcp: 127.0.0.1:22\n",
  });
  t.same(
    build(dir).checks?.map((k) => k.require),
    [["package:curl", "package:wget"]],
    "edges united",
  );
  writeFileSync(join(dir, "b/recipe.yaml"), "checks:\n  - tcp: 127.0.0.1:22\n    retries: 3\n");
  t.same(validateRepo(fsRepo(dir)).problems.map(formatProblem), [
    "b/recipe.yaml:2:5: checks[0]: check tcp:127.0.0.1:22 is declared twice with different attributes: here and at a/recipe.yaml:4; keep one declaration, or make them identical [TEND_E_DUPLICATE]",
  ]);
});

t.test("two checks that render to one id are merged or refused like any duplicate", async (t) => {
  const dir = repo({
    "nodes.yaml": nodes,
    "web/recipe.yaml":
      'vars: { port: 80 }\nchecks:\n  - tcp: "127.0.0.1:{{ vars.port }}"\n  - tcp: 127.0.0.1:80\n',
  });
  t.equal(build(dir).checks?.length, 1, "identical once rendered: one check");
  writeFileSync(
    join(dir, "web/recipe.yaml"),
    'vars: { port: 80 }\nchecks:\n  - tcp: "127.0.0.1:{{ vars.port }}"\n  - tcp: 127.0.0.1:80\n    retries: 2\n',
  );
  t.same(problems(dir), [
    "web/recipe.yaml:4:5: checks[1]: check tcp:127.0.0.1:80 is declared twice with different attributes: here and at web/recipe.yaml:3; keep one declaration, or make them identical [TEND_E_DUPLICATE]",
  ]);
});
