// The schemas are the contract and the reference docs: every property has a title and a
// description; round trips hold. (test/core/generated.test.ts checks the generated files.)
import t from "tap";
import { fsRepo } from "../../agent/repo-fs.js";
import { compile } from "../../core/compile.js";
import { isValid, schemaNames, schemaProblems } from "../../core/schema.js";
import type { Report } from "../../core/types.js";
import { parseYaml } from "../../core/yaml.js";
import { loadSchemas } from "../../scripts/gen-lib.js";
import { sampleFacts } from "../helpers/facts.js";

t.test("every schema property has a title and a description", async (t) => {
  const missing: string[] = [];
  const walk = (node: unknown, path: string) => {
    if (!node || typeof node !== "object") return;
    const n = node as Record<string, unknown>;
    for (const key of ["properties", "$defs"]) {
      const props = n[key] as Record<string, Record<string, unknown>> | undefined;
      for (const [name, prop] of Object.entries(props ?? {})) {
        const here = `${path}/${key}/${name}`;
        // A bare $ref takes its title and description from its target.
        if (key === "properties" && !(prop.$ref && Object.keys(prop).length === 1)) {
          if (typeof prop.title !== "string" || typeof prop.description !== "string") missing.push(here);
        }
        walk(prop, here);
      }
    }
    for (const key of ["items", "additionalProperties"])
      if (n[key] && typeof n[key] === "object") walk(n[key], `${path}/${key}`);
  };
  const schemas = loadSchemas();
  t.ok(Object.keys(schemas).length >= 6, "recipe, nodes, catalog, report, agent-config, server-config");
  for (const [name, schema] of Object.entries(schemas)) walk(schema, name);
  t.same(missing, [], "properties without title or description");
});

t.test("the validation module knows every schema", async (t) => {
  t.same(schemaNames(), Object.keys(loadSchemas()).sort());
});

t.test("round trip: a compiled catalog and a report made from it validate; mutations do not", async (t) => {
  const { catalog } = compile(
    fsRepo(new URL("../../recipes", import.meta.url).pathname),
    "web-1",
    sampleFacts(),
  );
  t.ok(catalog && isValid("catalog", JSON.parse(JSON.stringify(catalog))));
  const report: Report = {
    format: 1,
    id: "0b9a2f6e-3c1d-4e8f-9a7b-2c3d4e5f6a7b",
    node: "web-1",
    commit: null,
    mode: "apply",
    status: "changed",
    started_at: "2026-11-25T10:00:00.000Z",
    duration_ms: 210,
    catalog_source: "local",
    catalog_age_s: 0,
    summary: { total: 1, changed: 1, drifted: 1, failed: 0, skipped: 0, unchanged: 0 },
    resources: [
      {
        id: "file:/etc/motd",
        type: "file",
        status: "changed",
        drifted: true,
        changes: [{ property: "content", from: "a", to: "b" }],
        diff: "--- a\n+++ b\n",
        error: null,
        duration_ms: 2,
      },
    ],
  };
  t.ok(isValid("report", report), "report valid");
  t.notOk(isValid("report", { ...report, status: "exploded" }), "bad status");
  t.notOk(isValid("report", { ...report, resources: [{ ...report.resources[0], extra: 1 }] }), "unknown key");
  t.notOk(isValid("catalog", { ...catalog, format: 2 }), "bad format");
});

t.test("schema problems read as sentences and point at the line", async (t) => {
  const text = "server: 10.0.0.5:7420\nsplay: ten\nstate_dir: /var/lib/tend\nnodee: web-1\n";
  const { parsed } = parseYaml(text, "agent.yaml");
  const problems = schemaProblems("agent-config", parsed!.value, {
    file: "agent.yaml",
    locate: parsed!.locate,
  });
  const lines = problems.map((p) => `${p.line}:${p.column} ${p.field}: ${p.message}`);
  t.same(lines.sort(), [
    '1:9 server: must be a URL such as "http://10.0.0.5:7420", found "10.0.0.5:7420"',
    '2:8 splay: must be an integer, found "ten"',
    '4:1 nodee: unknown key "nodee"; did you mean "node"?',
  ]);
});

t.test("this machine's gathered facts are valid facts", async (t) => {
  const { gatherFacts } = await import("../../agent/facts/index.js");
  const facts = await gatherFacts();
  t.same(schemaProblems("facts", facts), []);
});
