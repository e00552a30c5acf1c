/**
 * A node's health checks: declared by its recipes in recipe order (includes first), each following
 * its own `require` or, by default, every resource of its own recipe; the same id twice is merged
 * when identical and refused otherwise, as for resources. Per node, checks with Liquid are
 * rendered (and, since rendering can make two ids one, merged or refused again).
 */
import { canonicalJson } from "./canonical.js";
import { type DeclaredCheck, normalizeCheck, renderCheck } from "./checks.js";
import type { Problem } from "./errors.js";
import type { Loader } from "./load.js";
import type { Fail } from "./normalize.js";
import { fieldName } from "./schema.js";
import type { TemplateScope, Templates } from "./template.js";
import type { CatalogCheck } from "./types.js";
import type { PathSegment } from "./yaml.js";

/** A declared check with its `require` resolved to resource ids. */
export type ResolvedCheck = DeclaredCheck & { require: string[] };

export function declareChecks(
  loader: Loader,
  templates: Templates,
  recipes: string[],
  /** Every resource of the node by id, and the ids each recipe with checks declares. */
  ids: { all: ReadonlyMap<string, unknown>; byRecipe: ReadonlyMap<string, string[]> },
  problems: Problem[],
): ResolvedCheck[] {
  const out: ResolvedCheck[] = [];
  const byKey = new Map<string, ResolvedCheck>();
  for (const recipe of recipes) {
    const loaded = loader.loadRecipe(recipe)!;
    (loaded.data?.checks ?? []).forEach((raw, i) => {
      const path = ["checks", i];
      const at = { recipe, file: loaded.file, path, line: loaded.parsed?.locate(path)?.line };
      const before = problems.length;
      const fail: Fail = (message, field, code = "TEND_E_SCHEMA") =>
        problems.push(place(loader, at, [...path, ...field], { code, message }));
      const d = normalizeCheck(raw, at, fail, templates);
      if (!d) return;
      d.require?.forEach((ref, j) => {
        if (!ids.all.has(ref))
          fail(
            `require names ${ref}, which no recipe of this node declares`,
            ["require", j],
            "TEND_E_UNKNOWN_REF",
          );
      });
      if (problems.length > before) return;
      const require = d.require ?? ids.byRecipe.get(recipe) ?? [];
      const prior = byKey.get(d.key);
      if (!prior) {
        const resolved = { ...d, require };
        byKey.set(d.key, resolved);
        out.push(resolved);
      } else if (sameDeclared(prior, d)) {
        prior.require = union(prior.require, require);
      } else {
        fail(duplicate(d.key, prior), [], "TEND_E_DUPLICATE");
      }
    });
  }
  return out;
}

/** The catalog's checks for one node (`scope`): templated ones rendered, durations in ms. */
export function compileChecks(
  loader: Loader,
  templates: Templates,
  declared: readonly ResolvedCheck[],
  scope: TemplateScope,
  problems: Problem[],
): CatalogCheck[] {
  const out: CatalogCheck[] = [];
  const from: ResolvedCheck[] = [];
  for (const d of declared) {
    let probe = d.fixed;
    if (!probe) {
      const rendered = renderCheck(d, scope, templates);
      if ("code" in rendered) {
        const { at, ...p } = rendered;
        const message =
          p.code === "TEND_E_CHECK" ? p.message : `${p.message} (rendered for node ${scope.node})`;
        problems.push(place(loader, d, [...d.path, ...at], { ...p, message }));
        continue;
      }
      probe = rendered;
    }
    from.push(d);
    out.push({
      ...probe,
      timeout_ms: d.timeout_ms,
      retries: d.retries,
      interval_ms: d.interval_ms,
      // A copy: the declarations are shared by every node with the same recipes.
      require: d.require.slice(),
      source: `${d.file}:${d.line ?? 0}`,
    });
  }
  return declared.some((d) => d.templated) ? mergeRendered(loader, out, from, problems) : out;
}

/** Rendered checks whose ids met: identical ones merged, different ones refused. */
function mergeRendered(
  loader: Loader,
  checks: CatalogCheck[],
  from: ResolvedCheck[],
  problems: Problem[],
): CatalogCheck[] {
  const byId = new Map<string, { at: number; src: ResolvedCheck }>();
  const out: CatalogCheck[] = [];
  for (const [i, c] of checks.entries()) {
    const first = byId.get(c.id);
    if (!first) {
      byId.set(c.id, { at: out.length, src: from[i]! });
      out.push(c);
    } else if (probeKey(out[first.at]!) === probeKey(c)) {
      out[first.at]!.require = union(out[first.at]!.require, c.require);
    } else {
      const d = from[i]!;
      problems.push(
        place(loader, d, d.path, { code: "TEND_E_DUPLICATE", message: duplicate(c.id, first.src) }),
      );
    }
  }
  return out;
}

function duplicate(id: string, prior: { file: string; line?: number }): string {
  return `check ${id} is declared twice with different attributes: here and at ${prior.file}:${prior.line ?? "?"}; keep one declaration, or make them identical`;
}

function sameDeclared(a: DeclaredCheck, b: DeclaredCheck): boolean {
  const key = (d: DeclaredCheck) =>
    canonicalJson([d.type, d.text, d.status ?? null, d.timeout_ms, d.retries, d.interval_ms]);
  return key(a) === key(b);
}

function probeKey(c: CatalogCheck): string {
  const { require: _r, source: _s, ...probe } = c;
  return canonicalJson(probe);
}

function place(
  loader: Loader,
  at: { recipe: string; file: string },
  path: PathSegment[],
  p: Problem,
): Problem {
  const pos = loader.loadRecipe(at.recipe)?.parsed?.locate(path);
  return {
    ...p,
    file: at.file,
    field: fieldName(path),
    ...(pos ? { line: pos.line, column: pos.column } : {}),
  };
}

function union(a: string[], b: string[]): string[] {
  if (!b.length) return a;
  const out = [...a];
  for (const x of b) if (!out.includes(x)) out.push(x);
  return out;
}
