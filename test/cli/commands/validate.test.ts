// `tend validate` and `tend compile` as a person runs them: exit codes, located errors, no traces.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { tend } from "../../helpers/cli.js";

t.test("the example repository is valid: a one-line summary, exit 0", async (t) => {
  const r = tend(["validate", "recipes"]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^ok: recipes: 3 recipes, \d+ resources, 6 templates, 5 rules\n$/);
});

t.test("a broken repository: every error located, a count, exit 1, no stack trace", async (t) => {
  const r = tend(["validate", "test/fixtures/broken/unknown-key"]);
  t.equal(r.code, 1);
  t.match(
    r.stderr,
    /^base\/recipe\.yaml:3:5: resources\[0\]\.contnet: unknown key "contnet"; did you mean "content"\? \[TEND_E_SCHEMA\]\n/,
  );
  t.match(r.stderr, /test\/fixtures\/broken\/unknown-key: 1 error/);
  t.notMatch(r.stderr, /\n\s+at /, "no stack trace");
});

t.test("--json gives machines the problems", async (t) => {
  const r = tend(["validate", "test/fixtures/broken/exec-shell", "--json"]);
  t.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  t.equal(out.valid, false);
  t.equal(out.problems[0].code, "TEND_E_EXEC_SHELL");
  t.equal(out.problems[0].line, 2);
});

t.test("a folder that does not exist is a clear error", async (t) => {
  const r = tend(["validate", "no/such/dir"]);
  t.equal(r.code, 1);
  t.match(r.stderr, /^tend: no\/such\/dir is not a folder; give the path of a recipe repository/);
});

t.test("an empty folder says it lacks nodes.yaml", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-empty-"));
  const r = tend(["validate", dir]);
  t.equal(r.code, 1);
  t.match(r.stderr, /nodes\.yaml: .* has no nodes\.yaml/);
});

t.test("unknown options and commands are usage errors, not traces", async (t) => {
  const r = tend(["validate", "--frobnicate"]);
  t.equal(r.code, 1);
  t.match(r.stderr, /^tend: Unknown option '--frobnicate'/);
  const u = tend(["frobnicate"]);
  t.equal(u.code, 1);
  t.match(u.stderr, /unknown command "frobnicate"/);
  t.match(u.stderr, /usage: tend COMMAND/);
});

t.test("tend compile prints a node's catalog", async (t) => {
  const facts = join(mkdtempSync(join(tmpdir(), "tend-facts-")), "facts.json");
  await import("node:fs/promises").then((fs) =>
    fs.writeFile(
      facts,
      JSON.stringify({
        hostname: "web-2",
        fqdn: "web-2.example.com",
        os: { id: "debian", version_id: "12", family: "debian" },
        arch: "x86_64",
        kernel: "6.1",
        cpus: 1,
        memory_mb: 512,
        ipv4: [],
      }),
    ),
  );
  const r = tend(["compile", "recipes", "--node", "web-2", "--facts", facts]);
  t.equal(r.code, 0, r.stderr);
  const catalog = JSON.parse(r.stdout);
  t.equal(catalog.node, "web-2");
  t.ok(catalog.resources.some((x: { id: string }) => x.id === "service:nginx"));
});

t.test("tend compile refuses a facts file that is not facts, saying what is missing", async (t) => {
  const facts = join(mkdtempSync(join(tmpdir(), "tend-facts-")), "facts.json");
  await import("node:fs/promises").then((fs) =>
    fs.writeFile(facts, JSON.stringify({ hostname: "x", cpus: "two" })),
  );
  const r = tend(["compile", "recipes", "--facts", facts]);
  t.equal(r.code, 1);
  t.match(r.stderr, /does not hold valid facts/);
  t.match(r.stderr, /"os" is required here/);
  t.match(r.stderr, /cpus: must be an integer, found "two"/);
});

t.test("apply --catalog checks the file against the catalog schema, naming the field", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-catalog-"));
  const file = join(dir, "catalog.json");
  await import("node:fs/promises").then((fs) =>
    fs.writeFile(
      file,
      JSON.stringify({
        format: 1,
        node: "n",
        commit: null,
        recipes: [],
        resources: [{ id: "x" }],
        files: {},
      }),
    ),
  );
  const r = tend(["apply", "--catalog", file, "--noop", "--state-dir", join(dir, "state")]);
  t.equal(r.code, 1);
  t.match(r.stderr, /is not a valid tend catalog/);
  t.match(r.stderr, /resources\[0\]: "type" is required here/);
  t.notMatch(r.stderr, /\n\s+at /, "no stack trace");
});
