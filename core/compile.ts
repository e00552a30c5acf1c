/**
 * The compiler: repository + node name + facts → catalog. A `Compiler` is bound to one repository
 * snapshot and caches what does not depend on the node (parsed recipes, parsed templates, source
 * file hashes), so a server compiling many nodes of one commit pays for parsing once.
 */
import { isUtf8 } from "node:buffer";
import { canonicalJson } from "./canonical.js";
import { compileChecks, declareChecks, type ResolvedCheck } from "./check-list.js";
import { classify, mergeVars, type Rule } from "./classify.js";
import type { Problem } from "./errors.js";
import { TendError } from "./errors.js";
import { KIND_RULES } from "./generated/kinds.js";
import { implicitEdges, order } from "./graph.js";
import { sha256 } from "./hash.js";
import { renderLiquidParams } from "./liquid-params.js";
import { type Loaded, Loader, type ParseCache, type RecipeFile } from "./load.js";
import { type Declared, normalize } from "./normalize.js";
import { checkRepoPath } from "./paths.js";
import { type RepoSource, STREAM_FILE_BYTES } from "./repo.js";
import { Templates } from "./template.js";
import type { Catalog, CatalogCheck, CatalogFile, CatalogResource, Facts, Json } from "./types.js";

export const NODE_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

export interface CompileOptions {
  commit?: string | null;
}

export interface CompileResult {
  catalog?: Catalog;
  problems: Problem[];
}

export function compile(
  repo: RepoSource,
  node: string,
  facts: Facts,
  opts: CompileOptions = {},
): CompileResult {
  return new Compiler(repo).compile(node, facts, opts);
}

/** Like compile, but throws a TendError listing every problem. */
export function compileOrThrow(
  repo: RepoSource,
  node: string,
  facts: Facts,
  opts: CompileOptions = {},
): Catalog {
  const { catalog, problems } = compile(repo, node, facts, opts);
  if (!catalog)
    throw new TendError(
      "TEND_E_VALIDATION",
      `${repo.label} does not compile for node ${node}: ${countProblems(problems)}`,
      problems,
    );
  return catalog;
}

export function countProblems(problems: Problem[]): string {
  return problems.length === 1 ? "1 error" : `${problems.length} errors`;
}

export function checkNodeName(node: string): Problem | undefined {
  if (NODE_NAME.test(node) && !node.includes("..")) return undefined;
  return {
    code: "TEND_E_NODE_NAME",
    message: `"${node}" is not a valid node name: use lower-case letters, digits, '.' and '-', starting and ending with a letter or digit`,
  };
}

export class Compiler {
  readonly loader: Loader;
  readonly templates: Templates;
  private sourceHashes = new Map<string, { sha: string; file: CatalogFile } | Problem>();
  /** Declared resources and checks by list of recipes: they depend on nothing else (not node, not facts). */
  private declared = new Map<
    string,
    { resources: Declared[]; checks: ResolvedCheck[]; problems: Problem[] }
  >();

  constructor(
    readonly repo: RepoSource,
    /** Parse results shared with other snapshots (the server's branches); see `ParseCache`. */
    shared?: ParseCache,
  ) {
    this.loader = new Loader(repo, shared);
    this.templates = new Templates(repo);
  }

  compile(node: string, facts: Facts, opts: CompileOptions = {}): CompileResult {
    const bad = checkNodeName(node);
    if (bad) return { problems: [bad] };
    const plan = this.plan(node, facts);
    if (plan.problems.length) return { problems: plan.problems };
    const problems: Problem[] = [];
    const files: Record<string, CatalogFile> = {};
    const scope = { vars: plan.vars, facts: facts as unknown as Json, node };
    // A template sees only vars, facts and node, the same for every resource of this compile:
    // each template is rendered (and hashed) once, however many resources use it.
    const rendered = new Map<string, { sha: string; file: CatalogFile } | Problem>();
    const resources: CatalogResource[] = plan.resources.map((d) => {
      const params = { ...d.params };
      if (KIND_RULES[d.type].liquid)
        renderLiquidParams(d, params, this.templates, scope, (p, field) => {
          const parsed = this.loader.loadRecipe(d.recipe)?.parsed;
          problems.push(
            at(
              { file: d.file, locatePath: [...d.path, ...field], parsed },
              { ...p, field: fieldOf([...d.path, ...field]) },
            ),
          );
        });
      if (d.content) {
        const resolved = this.content(d, scope, rendered);
        if ("code" in resolved) problems.push(resolved);
        else {
          params[d.content.param] = resolved.sha;
          files[resolved.sha] = resolved.file;
        }
      }
      const desired = { type: d.type, name: d.name, params };
      return {
        id: d.id,
        type: d.type,
        name: d.name,
        params,
        // Copies: the declarations are shared by every node with the same recipes.
        require: d.require.slice(),
        notify: d.notify.slice(),
        source: `${d.file}:${d.line ?? 0}`,
        digest: sha256(canonicalJson(desired)),
        // Only when opted out, so catalogs of recipes that never say `watch` stay as they were.
        ...(d.watch === false ? { watch: false as const } : {}),
      };
    });
    // Checks only when the recipes declare some: a catalog without them stays as it was before
    // checks existed, so agents that do not know the key keep accepting it.
    const checks: CatalogCheck[] = plan.checks.length
      ? compileChecks(this.loader, this.templates, plan.checks, scope, problems)
      : [];
    if (problems.length) return { problems };
    const sortedFiles: Record<string, CatalogFile> = {};
    for (const k of Object.keys(files).sort()) sortedFiles[k] = files[k]!;
    return {
      catalog: {
        format: 1,
        node,
        commit: opts.commit ?? null,
        recipes: plan.recipes,
        resources,
        ...(checks.length ? { checks } : {}),
        files: sortedFiles,
      },
      problems: [],
    };
  }

  /**
   * Everything but content: classification, includes, resources with edges, in order. With
   * `facts: null` (validation) every fact rule is taken as matching.
   */
  plan(
    node: string,
    facts: Facts | null,
    override?: Rule[],
  ): {
    recipes: string[];
    vars: Record<string, Json>;
    resources: Declared[];
    checks: ResolvedCheck[];
    problems: Problem[];
  } {
    const problems: Problem[] = [];
    const nodes = override ? { file: "nodes.yaml", data: override, problems: [] } : this.loader.loadNodes();
    problems.push(...nodes.problems);
    const rules: Rule[] = nodes.data ?? [];
    const cls = classify(rules, node, facts);
    const recipes: string[] = [];
    const visiting: string[] = [];
    const visit = (
      name: string,
      from: { file: string; locatePath: (string | number)[]; parsed?: Loaded<unknown>["parsed"] },
    ) => {
      if (recipes.includes(name)) return;
      if (visiting.includes(name)) {
        const cycle = [...visiting.slice(visiting.indexOf(name)), name].join(" → ");
        problems.push(
          at(from, {
            code: "TEND_E_INCLUDE_CYCLE",
            message: `recipes include each other in a cycle: ${cycle}`,
          }),
        );
        return;
      }
      const loaded = this.loader.loadRecipe(name);
      if (!loaded) {
        problems.push(
          at(from, {
            code: "TEND_E_RECIPE_MISSING",
            message: `recipe "${name}" does not exist (no ${name}/recipe.yaml)`,
          }),
        );
        return;
      }
      problems.push(...loaded.problems);
      visiting.push(name);
      (loaded.data?.include ?? []).forEach((inc, i) => {
        visit(inc, { file: loaded.file, locatePath: ["include", i], parsed: loaded.parsed });
      });
      visiting.pop();
      recipes.push(name);
    };
    for (const r of cls.recipes) {
      const idx = (rules[r.rule]?.recipes ?? []).indexOf(r.name);
      visit(r.name, {
        file: nodes.file,
        locatePath: [r.rule, "recipes", idx],
        parsed: "parsed" in nodes ? nodes.parsed : undefined,
      });
    }
    let vars: Record<string, Json> = {};
    for (const name of recipes) vars = mergeVars(vars, this.loader.loadRecipe(name)?.data?.vars ?? {});
    vars = mergeVars(vars, cls.vars);
    if (problems.length) return { recipes, vars, resources: [], checks: [], problems };
    // Nodes with the same recipes share their resources: validate's sample nodes, and a server
    // compiling many nodes of one commit, normalise and order them once.
    const key = recipes.join("\n");
    let declared = this.declared.get(key);
    if (!declared) {
      const found: Problem[] = [];
      const ids = { all: new Map<string, Declared>(), byRecipe: new Map<string, string[]>() };
      const resources = this.resources(recipes, found, ids);
      const checks = declareChecks(this.loader, this.templates, recipes, ids, found);
      declared = { resources, checks, problems: found };
      this.declared.set(key, declared);
    }
    problems.push(...declared.problems);
    return { recipes, vars, resources: declared.resources, checks: declared.checks, problems };
  }

  /**
   * The recipes' resources in order. `ids.all` gets every resource by id, `ids.byRecipe` the ids each
   * recipe with checks declares (what its checks follow by default).
   */
  private resources(
    recipes: string[],
    problems: Problem[],
    ids: { all: Map<string, Declared>; byRecipe: Map<string, string[]> },
  ): Declared[] {
    const declared: Declared[] = [];
    const byId = ids.all;
    for (const name of recipes) {
      const loaded = this.loader.loadRecipe(name)!;
      const list = loaded.data?.resources ?? [];
      // Only a recipe with checks needs its ids (they are what its checks follow by default).
      const own = loaded.data?.checks?.length ? new Set<string>() : undefined;
      list.forEach((raw, i) => {
        const path = ["resources", i];
        const line = loaded.parsed?.locate(path)?.line;
        const fail = (
          message: string,
          field: (string | number)[],
          code: Problem["code"] = "TEND_E_SCHEMA",
        ) => {
          problems.push(
            at(
              { file: loaded.file, locatePath: [...path, ...field], parsed: loaded.parsed },
              { code, message, field: fieldOf([...path, ...field]) },
            ),
          );
        };
        const d = normalize(raw, { recipe: name, file: loaded.file, path, line }, fail);
        if (!d) return;
        if (loaded.data?.watch === false) d.watch = false;
        own?.add(d.id);
        const prior = byId.get(d.id);
        if (!prior) {
          byId.set(d.id, d);
          declared.push(d);
        } else if (
          canonicalJson([prior.params, prior.content ?? null]) ===
          canonicalJson([d.params, d.content ?? null])
        ) {
          prior.require = union(prior.require, d.require);
          prior.notify = union(prior.notify, d.notify);
          // Any recipe that opts out of watch mode opts the shared resource out.
          if (d.watch === false) prior.watch = false;
        } else {
          fail(
            `${d.id} is declared twice with different attributes: here and at ${prior.file}:${prior.line ?? "?"}; keep one declaration, or make them identical`,
            [],
            "TEND_E_DUPLICATE",
          );
        }
      });
      if (own) ids.byRecipe.set(name, [...own]);
    }
    if (problems.length) return [];
    const index = new Map(declared.map((d, i) => [d.id, i]));
    const before: number[][] = declared.map(() => []);
    const unknown = (d: Declared, field: "require" | "notify", j: number, ref: string) => {
      const loaded = this.loader.loadRecipe(d.recipe)!;
      problems.push(
        at(
          { file: d.file, locatePath: [...d.path, field, j], parsed: loaded.parsed },
          {
            code: "TEND_E_UNKNOWN_REF",
            message: `${field} names ${ref}, which no recipe of this node declares`,
            field: fieldOf([...d.path, field, j]),
          },
        ),
      );
    };
    const implicitAll = implicitEdges(declared, (id) => index.has(id));
    // Plain loops: this runs for every resource of the node.
    for (let i = 0; i < declared.length; i++) {
      const d = declared[i]!;
      for (let j = 0; j < d.require.length; j++) {
        const k = index.get(d.require[j]!);
        if (k === undefined) unknown(d, "require", j, d.require[j]!);
        else before[i]!.push(k);
      }
      for (let j = 0; j < d.notify.length; j++) {
        const k = index.get(d.notify[j]!);
        if (k === undefined) unknown(d, "notify", j, d.notify[j]!);
        else before[k]!.push(i);
      }
      const implicit = implicitAll[i]!;
      for (const id of implicit) before[i]!.push(index.get(id)!);
      d.require = union(d.require, implicit);
    }
    if (problems.length) return [];
    const sorted = order(declared.length, before);
    if ("cycle" in sorted) {
      // Start the cycle at its earliest declaration, so the message is the same however it was found.
      const ring = sorted.cycle.slice(0, -1);
      const start = ring.indexOf(Math.min(...ring));
      sorted.cycle = [...ring.slice(start), ...ring.slice(0, start), ring[start]!];
      const names = sorted.cycle.map(
        (i) => `${declared[i]!.id} (${declared[i]!.file}:${declared[i]!.line ?? "?"})`,
      );
      const first = declared[sorted.cycle[0]!]!;
      problems.push({
        code: "TEND_E_DEPENDENCY_CYCLE",
        message: `resources depend on each other in a cycle: ${names.join(" → ")}; each must come before the next, so none can go first — remove one require or notify`,
        file: first.file,
        ...(first.line ? { line: first.line } : {}),
      });
      return [];
    }
    return sorted.order.map((i) => declared[i]!);
  }

  /** A resource's wanted bytes: their sha256 and the catalog entry, or a problem. */
  private content(
    d: Declared,
    scope: { vars: Record<string, Json>; facts: Json; node: string },
    rendered: Map<string, { sha: string; file: CatalogFile } | Problem>,
  ): { sha: string; file: CatalogFile } | Problem {
    const spec = d.content!;
    const loaded = this.loader.loadRecipe(d.recipe)!;
    const field = spec.key;
    const locate = () => loaded.parsed?.locate([...d.path, field]);
    if (spec.from === "content") return textEntry(spec.text);
    const folder = spec.from === "template" ? `${d.recipe}/templates` : d.recipe;
    const checked = checkRepoPath(this.repo, folder, spec.path, spec.from);
    if (typeof checked !== "string") return withPlace(checked, d.file, locate(), fieldOf([...d.path, field]));
    if (spec.from === "source") {
      let cached = this.sourceHashes.get(checked);
      if (!cached) {
        // A large file is hashed where it lies (in chunks) and listed by size and hash only: the
        // node gets its bytes as a stream, never inside the catalog (core/repo.ts, STREAM_FILE_BYTES).
        const size = this.repo.size(checked);
        cached =
          this.repo.sha256 && size !== undefined && size > STREAM_FILE_BYTES
            ? { sha: this.repo.sha256(checked), file: { size } }
            : entry(this.repo.read(checked));
        this.sourceHashes.set(checked, cached);
      }
      return cached;
    }
    let out = rendered.get(checked);
    if (!out) {
      const text = this.templates.render(folder, checked, scope);
      out = typeof text === "string" ? textEntry(text) : text;
      rendered.set(checked, out);
    }
    if ("code" in out)
      return {
        ...out,
        message: `${out.message} (rendering ${d.id} for node ${scope.node}, ${d.file}:${d.line ?? "?"})`,
      };
    return out;
  }
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** The entry of a text: the entry of its UTF-8 bytes. */
function textEntry(text: string): { sha: string; file: CatalogFile } {
  // Without surrogates (so without a lone one, which encoding would replace), the text is its own
  // UTF-8 decoding: hashed as it is, no round trip through a buffer (a compile has thousands).
  if (SURROGATE.test(text)) return entry(Buffer.from(text, "utf8"));
  return { sha: sha256(text), file: { size: Buffer.byteLength(text, "utf8"), text } };
}

function entry(bytes: Buffer): { sha: string; file: CatalogFile } {
  const sha = sha256(bytes);
  // Valid UTF-8 travels as text (readable in the catalog and in diffs), anything else as base64.
  return {
    sha,
    file: isUtf8(bytes)
      ? { size: bytes.length, text: bytes.toString("utf8") }
      : { size: bytes.length, base64: bytes.toString("base64") },
  };
}

function withPlace(
  p: Problem,
  file: string,
  pos: { line: number; column: number } | undefined,
  field: string,
): Problem {
  return { ...p, file, field, ...(pos ? { line: pos.line, column: pos.column } : {}) };
}

function at(
  from: { file: string; locatePath: (string | number)[]; parsed?: Loaded<unknown>["parsed"] },
  p: Problem,
): Problem {
  const pos = from.parsed?.locate(from.locatePath);
  return { ...p, file: from.file, ...(pos ? { line: pos.line, column: pos.column } : {}) };
}

function fieldOf(path: (string | number)[]): string {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

function union(a: string[], b: string[]): string[] {
  if (!b.length) return a;
  const out = [...a];
  for (const x of b) if (!out.includes(x)) out.push(x);
  return out;
}

export type { RecipeFile };
