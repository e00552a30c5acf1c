/**
 * Attributes that may use Liquid (a kind's spec lists them: a git checkout's `repository`, an apt
 * repository's `uris`), so one recipe serves boxes that fetch from different places:
 * `repository: "{{ vars.app_repo }}"` with the default in the recipe's vars and an override in
 * nodes.yaml. Rendered per node by the compiler with vars, facts and node, as templates are; the
 * rendered value must still match the attribute's own pattern (the catalog schema's), checked here
 * so a bad value is a file:line error at compile time, not a catalog the agent refuses.
 * `tend validate` parses them (it has no node to render for).
 */
import type { Problem } from "./errors.js";
import { KIND_RULES } from "./generated/kinds.js";
import type { Declared } from "./normalize.js";
import type { TemplateScope, Templates } from "./template.js";
import type { Json, ResourceType } from "./types.js";

const LIQUID = /\{[{%]/;

/** The Liquid texts of one authored or declared resource's attributes: [attribute, index or -1, text]. */
function liquidTexts(type: ResourceType, params: Record<string, Json>): [string, number, string][] {
  const out: [string, number, string][] = [];
  for (const key of Object.keys(KIND_RULES[type].liquid ?? {})) {
    const v = params[key];
    if (typeof v === "string") {
      if (LIQUID.test(v)) out.push([key, -1, v]);
    } else if (Array.isArray(v))
      v.forEach((x, i) => {
        if (typeof x === "string" && LIQUID.test(x)) out.push([key, i, x]);
      });
  }
  return out;
}

/** Where a problem is, inside the resource: the attribute, and the item of a list. */
export type AttributePath = [string] | [string, number];
const pathOf = (key: string, i: number): AttributePath => (i < 0 ? [key] : [key, i]);

/**
 * Renders `params` (a copy of `d.params`) in place. Each problem goes to `fail` with the attribute
 * it is about; the caller places it in the recipe.
 */
export function renderLiquidParams(
  d: Declared,
  params: Record<string, Json>,
  templates: Templates,
  scope: TemplateScope,
  fail: (p: Problem, at: AttributePath) => void,
): void {
  const texts = liquidTexts(d.type, params);
  if (!texts.length) return;
  const patterns = KIND_RULES[d.type].liquid ?? {};
  for (const [key, i, text] of texts) {
    const out = templates.renderText(`${d.recipe}/templates`, text, scope);
    if (typeof out !== "string") {
      fail({ ...out, message: `${out.message} (rendering ${d.id} for node ${scope.node})` }, pathOf(key, i));
      continue;
    }
    const pattern = patterns[key];
    if (pattern && !new RegExp(pattern, "u").test(out)) {
      fail(
        {
          code: "TEND_E_SCHEMA",
          message: `${JSON.stringify(text)} renders to ${JSON.stringify(out)} for node ${scope.node}, which is not a valid ${key} (it must match ${pattern}); set the variable it names in the recipe's vars or nodes.yaml`,
        },
        pathOf(key, i),
      );
      continue;
    }
    if (i < 0) params[key] = out;
    else params[key] = (params[key] as Json[]).map((x, j) => (j === i ? out : x));
  }
}

/** Liquid syntax errors in an authored resource's Liquid attributes (for `tend validate`). */
export function liquidSyntaxProblems(
  type: ResourceType,
  raw: Record<string, Json>,
  recipe: string,
  templates: Templates,
): [Problem, AttributePath][] {
  const problems: [Problem, AttributePath][] = [];
  for (const [key, i, text] of liquidTexts(type, raw)) {
    const parsed = templates.parseText(`${recipe}/templates`, text);
    if (!Array.isArray(parsed)) problems.push([parsed, pathOf(key, i)]);
  }
  return problems;
}
