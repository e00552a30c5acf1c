/**
 * The kind registry: every module in agent/resources/ that exports a `Kind` is a kind. From their
 * specs (core/kind-spec.ts) this derives everything else that names kinds: the registry the agent
 * imports (agent/resources/index.ts), the rules core normalises and orders by
 * (core/generated/kinds.ts), the kinds' parts of schemas/recipe.schema.json and
 * schemas/catalog.schema.json, and docs/resources.md. `npm run gen` writes them; a test checks
 * they are current.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Kind } from "../agent/resources/kind.js";
import type { KindRules, KindSpec, Schema } from "../core/kind-spec.js";

/** A JSON Schema document, walked by key (what the generators read and rewrite). */
// biome-ignore lint/suspicious/noExplicitAny: schema documents are untyped JSON walked by key
export type Doc = Record<string, any>;

const root = fileURLToPath(new URL("..", import.meta.url));

export interface FoundKind {
  kind: Kind;
  /** Module file name in agent/resources/, e.g. "package.ts". */
  module: string;
  /** The name it is exported under, e.g. "pkg". */
  exportName: string;
}

function isKind(v: unknown): v is Kind {
  const k = v as Partial<Kind> | null;
  return !!k && typeof k === "object" && typeof k.check === "function" && typeof k.spec?.type === "string";
}

/** Every kind module of `dir` (default agent/resources/), sorted by type. */
export async function loadKinds(dir = join(root, "agent", "resources")): Promise<FoundKind[]> {
  const found: FoundKind[] = [];
  for (const module of readdirSync(dir).sort()) {
    if (!module.endsWith(".ts") || module === "index.ts" || module.endsWith(".d.ts")) continue;
    const exports = (await import(pathToFileURL(join(dir, module)).href)) as Record<string, unknown>;
    for (const [exportName, value] of Object.entries(exports)) {
      if (!isKind(value)) continue;
      if (value.type !== value.spec.type)
        throw new Error(
          `${module}: ${exportName}.type is "${value.type}" but its spec says "${value.spec.type}"`,
        );
      if (!/^[a-z][a-z_]*$/.test(value.type))
        throw new Error(`${module}: kind "${value.type}" must be lower-case letters and "_"`);
      const twice = found.find((f) => f.kind.type === value.type);
      if (twice) throw new Error(`kind "${value.type}" is exported by ${twice.module} and ${module}`);
      found.push({ kind: value, module, exportName });
    }
  }
  return found.sort((a, b) => (a.kind.type < b.kind.type ? -1 : 1));
}

/** The kinds in the order a resource's keys are tried: kind-only keys, then attribute keys by rank. */
export function keyOrder(kinds: FoundKind[]): KindSpec[] {
  const specs = kinds.map((k) => k.kind.spec);
  const rank = (s: KindSpec) => s.attribute_key_rank ?? -1;
  return [...specs].sort((a, b) => rank(a) - rank(b) || (a.type < b.type ? -1 : 1));
}

const isMode = (s: Schema) => s.$ref === "#/$defs/mode";

/** Attribute names that the compiler turns into something else (content, commands) or pads (modes). */
function transformed(spec: KindSpec): Set<string> {
  const out = new Set<string>();
  for (const from of ["content", "source", "template"] as const) {
    const key = spec.content?.[from];
    if (key) out.add(key);
  }
  if (spec.commands?.argv) out.add(spec.commands.argv.from);
  for (const g of spec.commands?.guards ?? []) out.add(g);
  if (spec.commands?.shell) out.add(spec.commands.shell);
  return out;
}

export function kindRules(spec: KindSpec): KindRules {
  const skip = transformed(spec);
  const attrs = Object.entries(spec.attributes);
  const defaults: Record<string, unknown> = {};
  for (const param of spec.required ?? []) {
    const d = spec.attributes[param]?.default;
    if (d === undefined)
      throw new Error(`kind ${spec.type}: required param "${param}" needs an attribute with a default`);
    defaults[param] = d;
  }
  const rules: Record<string, unknown> = {
    copy: attrs.filter(([k, s]) => !skip.has(k) && !isMode(s)).map(([k]) => k),
    modes: attrs.filter(([, s]) => isMode(s)).map(([k]) => k),
    defaults,
  };
  for (const key of [
    "attribute_key_rank",
    "name_is_path",
    "infer",
    "content",
    "commands",
    "rules",
    "edges",
  ] as const)
    if (spec[key] !== undefined) rules[key] = spec[key];
  if (spec.liquid?.length) rules.liquid = Object.fromEntries(spec.liquid.map((k) => [k, patternOf(spec, k)]));
  return rules as unknown as KindRules;
}

/** The pattern a Liquid attribute's rendered value must match: its own, or its items'. */
function patternOf(spec: KindSpec, key: string): string | null {
  const s = spec.attributes[key];
  if (!s) throw new Error(`kind ${spec.type}: liquid names "${key}", which is not an attribute`);
  const items = s.items as Schema | undefined;
  const pattern = s.pattern ?? items?.pattern;
  return typeof pattern === "string" ? pattern : null;
}

/** Said of every Liquid attribute, in the recipe schema (editors) and docs/resources.md. */
export const LIQUID_NOTE = "May use Liquid (`{{ vars.NAME }}`), rendered for each node.";

/**
 * A Liquid attribute as a recipe may write it: its pattern also admits text holding Liquid (the
 * compiler checks the rendered value against the pattern itself).
 */
export function liquidAttribute(s: Schema): Schema {
  const loosen = (p: unknown) => (typeof p === "string" ? `(?:${p})|\\{[{%]` : p);
  const items = s.items as Schema | undefined;
  return {
    ...s,
    description: `${String(s.description ?? "")} ${LIQUID_NOTE}`,
    ...(s.pattern !== undefined ? { pattern: loosen(s.pattern) } : {}),
    ...(items?.pattern !== undefined ? { items: { ...items, pattern: loosen(items.pattern) } } : {}),
  };
}

const GENERATED = "Generated by `npm run gen` from the kind modules in agent/resources/. Do not edit.";

/** core/generated/kinds.ts: the kind names and the rules core reads. */
export function generateKindRules(kinds: FoundKind[]): string {
  const types = kinds.map((k) => k.kind.type);
  const rules = Object.fromEntries(kinds.map((k) => [k.kind.type, kindRules(k.kind.spec)]));
  return [
    `// ${GENERATED}`,
    'import type { KindRules } from "../kind-spec.js";',
    "",
    `export type ResourceType = ${types.map((t) => JSON.stringify(t)).join(" | ")};`,
    "",
    "/** Every kind, in the order a resource's keys are tried (kind-only keys, then attribute keys by rank). */",
    `export const KIND_TYPES: readonly ResourceType[] = ${JSON.stringify(keyOrder(kinds).map((s) => s.type))};`,
    "",
    `export const KIND_RULES: Readonly<Record<ResourceType, KindRules>> = ${JSON.stringify(rules, null, 2)};`,
    "",
  ].join("\n");
}

/** agent/resources/index.ts: the registry the engine looks kinds up in. */
export function generateKindIndex(kinds: FoundKind[]): string {
  const lines = [
    `// ${GENERATED}`,
    "// The registry of resource kinds: the engine looks a resource's kind up here by its type.",
    'import type { ResourceType } from "../../core/types.js";',
  ];
  // Sorted by module, as biome's organise-imports keeps them.
  const imports: [string, string][] = kinds.map((k) => [
    k.module.replace(/\.ts$/, ".js"),
    `import { ${k.exportName} } from`,
  ]);
  imports.push(["kind.js", "import type { Kind } from"]);
  imports.sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [module, what] of imports) lines.push(`${what} "./${module}";`);
  lines.push("");
  const entries = kinds.map((k) =>
    k.exportName === k.kind.type ? k.exportName : `${k.kind.type}: ${k.exportName}`,
  );
  lines.push(`export const kinds: Record<ResourceType, Kind> = { ${entries.join(", ")} };`, "");
  return lines.join("\n");
}

const refs = (title: string, description: string) => ({ $ref: "#/$defs/refs", title, description });

/** The recipe schema's definition of one kind: its key, its attributes, require and notify. */
export function recipeDef(spec: KindSpec): Record<string, unknown> {
  return {
    title: spec.type,
    description: spec.description,
    type: "object",
    additionalProperties: false,
    ...(spec.mandatory?.length ? { required: spec.mandatory } : {}),
    properties: {
      [spec.type]: spec.name,
      ...Object.fromEntries(
        Object.entries(spec.attributes).map(([k, s]) => [
          k,
          spec.liquid?.includes(k) ? liquidAttribute(s) : s,
        ]),
      ),
      require: refs("Require", "Resources that must be converged before this one."),
      notify: refs(
        "Notify",
        "Resources refreshed (a service restarted, a refresh_only exec run) when this one changes.",
      ),
    },
  };
}

/** schemas/recipe.schema.json with its kinds' parts (definitions, the resource switch, id pattern) from the registry. */
export function recipeSchemaWithKinds(schema: Doc, kinds: FoundKind[]): Doc {
  const order = keyOrder(kinds);
  const known = new Set<string>(kinds.map((k) => k.kind.type));
  const defs: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(schema.$defs as Record<string, { title?: string }>))
    if (!known.has(name) && !isKindDef(def)) defs[name] = def;
  const list = order.map((s) => s.type);
  defs.ref = { ...(defs.ref as object), pattern: `^(${list.join("|")}):.+$` };
  defs.resource = {
    title: "Resource",
    description: `One resource; the key that names its kind also gives its name (e.g. \`package: nginx\`). ${attributeKeys(order)}`,
    type: "object",
    allOf: order.map((s, i) => {
      const earlier = order.slice(0, i).map((e) => ({ required: [e.type] }));
      return {
        if: earlier.length ? { required: [s.type], not: { anyOf: earlier } } : { required: [s.type] },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a promise
        then: { $ref: `#/$defs/${s.type}` },
      };
    }),
  };
  for (const s of order) defs[s.type] = recipeDef(s);
  const resources = {
    ...schema.properties.resources,
    description: `The desired state: each item names exactly one kind (${list.join(", ")}) by its key.`,
  };
  return { ...schema, properties: { ...schema.properties, resources }, $defs: defs };
}

function isKindDef(def: { title?: string; type?: unknown; properties?: Record<string, unknown> }): boolean {
  // A kind's definition has its own name as a property (its key); e.g. one a removed module left.
  return def.type === "object" && !!def.title && !!def.properties && def.title in def.properties;
}

function attributeKeys(order: KindSpec[]): string {
  const attrs = order.filter((s) => s.attribute_key_rank !== undefined).map((s) => s.type);
  if (!attrs.length) return "";
  return `${attrs.join(" and ")} name the kind only when no other kind key is present (elsewhere they are attributes, like a file's group).`;
}

const SHA256 = { type: "string", pattern: "^[0-9a-f]{64}$" };
const ARGV = { type: "array", items: { type: "string" }, minItems: 1 };

/** The catalog params of one kind: what the compiler makes of its attributes. */
export function paramsDef(spec: KindSpec): Record<string, unknown> {
  const skip = transformed(spec);
  const props: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(spec.attributes)) if (!skip.has(k)) props[k] = s;
  if (spec.content)
    props[spec.content.param] = {
      title: "Content",
      description: `sha256 of the wanted bytes (from ${["content", "source", "template"]
        .flatMap((f) => spec.content?.[f as "content"] ?? [])
        .map((a) => `\`${a}\``)
        .join(", ")}); the bytes travel in the catalog's files.`,
      ...SHA256,
    };
  const c = spec.commands;
  if (c?.argv) {
    const from = spec.attributes[c.argv.from];
    props[c.argv.param] = {
      title: "Argument vector",
      description: `${from?.description ?? ""} Split into words.`,
      ...ARGV,
    };
  }
  for (const g of c?.guards ?? []) props[g] = { ...spec.attributes[g], $ref: undefined, ...ARGV };
  if (c?.shell) props[c.shell] = spec.attributes[c.shell];
  const required = [
    ...(spec.required ?? []),
    ...(spec.mandatory ?? []).filter((k) => !skip.has(k)),
    ...(c?.argv ? [c.argv.param] : []),
  ];
  return JSON.parse(
    JSON.stringify({
      title: spec.type,
      description: spec.description,
      type: "object",
      additionalProperties: false,
      ...(required.length ? { required } : {}),
      properties: props,
    }),
  );
}

/** schemas/catalog.schema.json with the kinds' names, id pattern and each kind's params schema. */
export function catalogSchemaWithKinds(
  schema: Doc,
  recipeDefs: Record<string, unknown>,
  kinds: FoundKind[],
): Doc {
  const types = kinds.map((k) => k.kind.type);
  const item = schema.properties.resources.items;
  const defs: Record<string, unknown> = { mode: recipeDefs.mode };
  for (const k of kinds) defs[`params_${k.kind.type}`] = paramsDef(k.kind.spec);
  const props = {
    ...item.properties,
    id: { ...item.properties.id, pattern: `^(${types.join("|")}):.+$` },
    type: { ...item.properties.type, enum: types },
  };
  const allOf = types.map((t) => ({
    if: { properties: { type: { const: t } } },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a promise
    then: { properties: { params: { $ref: `#/$defs/params_${t}` } } },
  }));
  const resources = { ...schema.properties.resources, items: { ...item, properties: props, allOf } };
  return { ...schema, properties: { ...schema.properties, resources }, $defs: defs };
}
