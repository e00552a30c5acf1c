// The kind registry: a kind is one module in agent/resources/. Everything else that names kinds
// (the agent's registry, core's rules, the schemas, the docs) is generated from the modules, so a
// new kind written as a single file is validated, compiled, converged and documented.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { kinds } from "../../../agent/resources/index.js";
import type { Catalog } from "../../../core/types.js";
import { repoRoot } from "../../helpers/cli.js";

t.test("every kind's name and attributes have a title and a description", async (t) => {
  for (const kind of Object.values(kinds)) {
    t.equal(kind.spec.type, kind.type, `${kind.type}: the spec names its own kind`);
    for (const [name, p] of Object.entries({ [kind.type]: kind.spec.name, ...kind.spec.attributes }))
      t.ok(p.title && p.description, `${kind.type}.${name} has a title and a description`);
  }
});

/** A throw-away kind, written as a kind author would: one file. */
const MARKER = `
import { mkdir, readFile, writeFile } from "node:fs/promises";
import type { KindSpec } from "../../core/kind-spec.js";
import type { CatalogResource } from "../../core/types.js";
import { type CheckResult, type Kind, mode, pathName } from "./kind.js";

export const spec: KindSpec = {
  type: "marker",
  description: "A file holding one line of text, for the registry test.",
  notes: "A marker comes after its parent directory when that is managed.",
  name: pathName("Where the marker lives."),
  name_is_path: true,
  attributes: {
    text: { title: "Text", description: "The line to hold.", type: "string", default: "here" },
    mode: mode("Permission bits."),
  },
  required: ["text"],
  edges: [{ after: "file", ancestor: "name" }],
};

async function check(r: CatalogResource): Promise<CheckResult> {
  const want = \`\${r.params.text}\\n\`;
  const have = await readFile(r.name, "utf8").catch(() => null);
  return { changes: have === want ? [] : [{ property: "text", from: have, to: want }] };
}

async function apply(r: CatalogResource): Promise<undefined> {
  await writeFile(r.name, \`\${r.params.text}\\n\`);
}

export const marker: Kind = { type: "marker", spec, check, apply };
`;

t.test("a kind added as one file is validated, compiled, converged and documented", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-kind-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const copy = join(dir, "tend");
  mkdirSync(copy);
  for (const part of [
    "agent",
    "core",
    "cli",
    "server",
    "scripts",
    "schemas",
    "docs",
    "package.json",
    "tsconfig.json",
  ])
    cpSync(join(repoRoot, part), join(copy, part), { recursive: true });
  symlinkSync(join(repoRoot, "node_modules"), join(copy, "node_modules"));
  writeFileSync(join(copy, "agent", "resources", "marker.ts"), MARKER);

  const node = (args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", ...args], {
      cwd: copy,
      encoding: "utf8",
      timeout: 120_000,
    });
  const gen = node(["scripts/gen.ts"]);
  t.equal(gen.status, 0, `npm run gen: ${gen.stderr}`);

  const recipes = join(dir, "recipes");
  const target = join(dir, "out");
  mkdirSync(join(recipes, "base"), { recursive: true });
  writeFileSync(join(recipes, "nodes.yaml"), '- name: "*"\n  recipes: [base]\n');
  const recipe = (attrs: string) =>
    writeFileSync(
      join(recipes, "base", "recipe.yaml"),
      `resources:\n  - file: ${target}\n    ensure: directory\n  - marker: ${target}//m.txt\n${attrs}`,
    );
  const tend = (...args: string[]) => node(["cli/main.ts", ...args]);

  recipe("    colour: blue\n");
  const bad = tend("validate", recipes);
  t.equal(bad.status, 1, "an unknown attribute of the new kind is refused");
  t.match(bad.stderr, /base\/recipe\.yaml:5:\d+: .*colour/, "with file:line and the attribute");

  recipe('    mode: "600"\n');
  t.equal(tend("validate", recipes).status, 0, "the new kind validates");
  const compiled = tend("compile", recipes, "--node", "web-1");
  t.equal(compiled.status, 0, compiled.stderr);
  const catalog = JSON.parse(compiled.stdout) as Catalog;
  const m = catalog.resources.find((r) => r.type === ("marker" as never));
  t.same(m?.name, `${target}/m.txt`, "its name is normalised as a path");
  t.same(m?.params, { text: "here", mode: "0600" }, "its default is filled and its mode padded");
  t.same(m?.require, [`file:${target}`], "its automatic edge is there");

  const state = join(dir, "state");
  const first = tend("apply", recipes, "--node", "web-1", "--state-dir", state);
  t.equal(first.status, 2, `the first apply changes: ${first.stderr}`);
  t.equal(readFileSync(join(target, "m.txt"), "utf8"), "here\n");
  const second = tend("apply", recipes, "--node", "web-1", "--state-dir", state);
  t.equal(second.status, 0, "the second apply changes nothing");

  const doc = readFileSync(join(copy, "docs", "resources.md"), "utf8");
  t.match(doc, /## marker\n\nA file holding one line of text/, "docs/resources.md documents it");
  t.match(doc, /\| `text` \| string \| `"here"` \| \*\*Text\.\*\* The line to hold\. \|/);
  const schema = readFileSync(join(copy, "schemas", "recipe.schema.json"), "utf8");
  t.match(schema, /"marker"/, "the recipe schema knows it, for editors");
});
