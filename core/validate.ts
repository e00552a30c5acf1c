/**
 * `tend validate`: the whole repository checked at once. Every file against its schema, includes,
 * every template parses, sources exist and stay inside, and — for a sample node of every rule of
 * nodes.yaml — duplicates, unknown references and dependency cycles. Templates are rendered when
 * a node is compiled (they need its facts), so validation parses them only.
 */
import { globMatch, type Rule } from "./classify.js";
import { Compiler } from "./compile.js";
import type { Problem } from "./errors.js";
import { KIND_RULES } from "./generated/kinds.js";
import { liquidSyntaxProblems } from "./liquid-params.js";
import { kindKey } from "./normalize.js";
import { pinProblem } from "./openpgp.js";
import { checkRepoPath } from "./paths.js";
import type { RepoSource } from "./repo.js";
import type { Json } from "./types.js";

export interface ValidateResult {
  problems: Problem[];
  summary: string;
  counts: { recipes: number; resources: number; templates: number; rules: number };
}

export function validateRepo(repo: RepoSource, compiler: Compiler = new Compiler(repo)): ValidateResult {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  const add = (list: Problem[]) => {
    for (const p of list) {
      // A cycle of includes is found from each of its members: report it once.
      const cycle = p.code === "TEND_E_INCLUDE_CYCLE" ? /cycle: (.*)$/.exec(p.message)?.[1] : undefined;
      const key = cycle
        ? `cycle:${[...new Set(cycle.split(" → "))].sort().join(",")}`
        : `${p.file}:${p.line}:${p.column}:${p.message}`;
      if (!seen.has(key)) {
        seen.add(key);
        problems.push(p);
      }
    }
  };
  const loader = compiler.loader;
  const nodes = loader.loadNodes();
  add(nodes.problems);
  const names = loader.recipeNames();
  let resources = 0;
  let templates = 0;
  for (const name of names) {
    const loaded = loader.loadRecipe(name)!;
    add(loaded.problems);
    resources += loaded.data?.resources?.length ?? 0;
    for (const [i, r] of (loaded.data?.resources ?? []).entries()) {
      for (const [key, problem] of contentProblems(repo, name, r as Record<string, Json>)) {
        // Located only when wrong: finding a key's column builds the slow YAML tree.
        const pos = loaded.parsed?.locate(["resources", i, key]);
        add([
          {
            ...problem,
            file: loaded.file,
            field: `resources[${i}].${key}`,
            ...(pos ? { line: pos.line, column: pos.column } : {}),
          },
        ]);
      }
      const type = kindKey(r as Record<string, Json>);
      if (type && KIND_RULES[type].liquid)
        for (const [problem, at] of liquidSyntaxProblems(
          type,
          r as Record<string, Json>,
          name,
          compiler.templates,
        )) {
          const pos = loaded.parsed?.locate(["resources", i, ...at]);
          add([
            {
              ...problem,
              file: loaded.file,
              field: `resources[${i}].${at[0]}${at.length > 1 ? `[${at[1]}]` : ""}`,
              ...(pos ? { line: pos.line, column: pos.column } : {}),
            },
          ]);
        }
    }
    for (const t of listTemplates(repo, `${name}/templates`)) {
      templates++;
      const parsed = compiler.templates.parse(`${name}/templates`, t);
      if (!Array.isArray(parsed)) add([parsed]);
    }
  }
  const rules: Rule[] = nodes.data ?? [];
  const covered = new Set<string>();
  for (const sample of sampleNodes(rules)) {
    const plan = compiler.plan(sample, null);
    add(plan.problems);
    // A plan that stopped early (a broken recipe) did not check the others' resources.
    if (plan.problems.length === 0) for (const r of plan.recipes) covered.add(r);
  }
  // A recipe no sample node reaches is compiled with its includes alone: duplicates, cycles and
  // bad kinds in it are found before a node ever gets it.
  for (const name of names) if (!covered.has(name)) add(recipeAlone(compiler, name));
  const counts = { recipes: names.length, resources, templates, rules: rules.length };
  const summary = `${repo.label}: ${counts.recipes} recipes, ${counts.resources} resources, ${counts.templates} templates, ${counts.rules} rules`;
  return { problems, summary, counts };
}

/**
 * A resource's wanted bytes, as far as validation can check them without a node: the recipe files
 * its kind's content attributes name exist and stay inside the repository, and an OpenPGP key
 * (inline or a recipe file) matches its kind's fingerprint pins. Each problem with its attribute.
 */
function contentProblems(repo: RepoSource, recipe: string, r: Record<string, Json>): [string, Problem][] {
  const type = kindKey(r);
  const spec = type ? KIND_RULES[type].content : undefined;
  if (!spec) return [];
  const out: [string, Problem][] = [];
  let source: string | undefined;
  for (const from of ["source", "template"] as const) {
    const key = spec[from];
    const rel = key === undefined ? undefined : r[key];
    if (typeof rel !== "string") continue;
    const folder = from === "template" ? `${recipe}/templates` : recipe;
    const checked = checkRepoPath(repo, folder, rel, from);
    if (typeof checked !== "string") out.push([key!, checked]);
    else if (from === "source") source = checked;
  }
  const pinKey = spec.openpgp_fingerprint;
  const pins = pinKey === undefined ? undefined : r[pinKey];
  if (typeof pins !== "string" && !(Array.isArray(pins) && pins.every((p) => typeof p === "string")))
    return out;
  // Read only for a pin to check: validating a repository does not load its files.
  let bytes = source === undefined ? undefined : repo.read(source);
  const inline = spec.content === undefined ? undefined : r[spec.content];
  if (typeof inline === "string") bytes = Buffer.from(inline, "utf8");
  const why = bytes ? pinProblem(bytes, pins as string | string[]) : null;
  if (why) out.push([pinKey!, { code: "TEND_E_KEY_FINGERPRINT", message: why }]);
  return out;
}

/** Unknown refs are only errors for a node's whole set of recipes, so a recipe alone checks the rest. */
function recipeAlone(compiler: Compiler, name: string): Problem[] {
  return compiler
    .plan("validate", null, [{ name: "*", recipes: [name] }])
    .problems.filter((p) => p.code !== "TEND_E_UNKNOWN_REF");
}

/** A node name for every rule: literal names as they are, globs made concrete. */
export function sampleNodes(rules: Rule[]): string[] {
  const out = new Set<string>();
  for (const r of rules) {
    if (r.name === undefined) continue;
    const concrete = r.name
      .replace(/\{([^,}]*)[^}]*\}/g, "$1")
      .replace(/\[!?([^\]])[^\]]*\]/g, "$1")
      .replace(/\*\*?/g, "x")
      .replace(/\?/g, "x");
    if (globMatch(r.name, concrete)) out.add(concrete);
  }
  if (out.size === 0) out.add("node");
  return [...out];
}

function listTemplates(repo: RepoSource, dir: string): string[] {
  const out: string[] = [];
  for (const n of repo.list(dir)) {
    const p = `${dir}/${n}`;
    const st = repo.stat(p);
    if (st?.type === "dir") out.push(...listTemplates(repo, p));
    else if (st?.type === "file") out.push(p);
  }
  return out;
}
