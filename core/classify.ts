/**
 * Classification: which recipes and vars a node gets from nodes.yaml. Rules apply in order; every
 * matching rule adds its recipes; vars merge deeply, later rules winning.
 */
import picomatch from "picomatch";
import type { Facts, Json } from "./types.js";

export interface Rule {
  name?: string;
  facts?: Record<string, string | number | boolean>;
  recipes?: string[];
  vars?: Record<string, Json>;
  description?: string;
  /** The environment (branch) the named nodes are in; read from the default branch only. */
  environment?: string;
  /** Environments (globs) the named nodes may ask for. */
  allow_environments?: string | string[];
}

export interface Classification {
  recipes: { name: string; rule: number }[];
  vars: Record<string, Json>;
  rules: number[];
}

const matchers = new Map<string, (s: string) => boolean>();

export function globMatch(glob: string, name: string): boolean {
  let m = matchers.get(glob);
  if (!m) {
    m = picomatch(glob, { dot: true, nonegate: true });
    matchers.set(glob, m);
  }
  return m(name);
}

/** The value at a dotted path (`os.id`) in the facts. */
export function factAt(facts: unknown, path: string): unknown {
  let cur = facts;
  for (const seg of path.split(".")) {
    if (cur === null || typeof cur !== "object" || !Object.hasOwn(cur, seg)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

export function ruleMatches(rule: Rule, node: string, facts: Facts | null): boolean {
  if (rule.name !== undefined && !globMatch(rule.name, node)) return false;
  if (rule.facts) {
    // Without facts (validation), a fact rule is taken as matching: checks cover every recipe it may add.
    if (facts === null) return true;
    for (const [path, want] of Object.entries(rule.facts)) {
      const have = factAt(facts, path);
      if (have === undefined || have === null || typeof have === "object" || String(have) !== String(want))
        return false;
    }
  }
  return true;
}

export function classify(rules: Rule[], node: string, facts: Facts | null): Classification {
  const recipes: { name: string; rule: number }[] = [];
  const seen = new Set<string>();
  let vars: Record<string, Json> = {};
  const matched: number[] = [];
  rules.forEach((rule, i) => {
    if (!ruleMatches(rule, node, facts)) return;
    matched.push(i);
    for (const r of rule.recipes ?? []) {
      if (!seen.has(r)) {
        seen.add(r);
        recipes.push({ name: r, rule: i });
      }
    }
    if (rule.vars) vars = mergeVars(vars, rule.vars);
  });
  return { recipes, vars, rules: matched };
}

/** Deep merge of plain mappings; lists and scalars from `over` replace. */
export function mergeVars(base: Record<string, Json>, over: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (k === "__proto__" || k === "constructor" || k === "prototype") continue;
    const b = out[k];
    out[k] = isPlain(b) && isPlain(v) ? mergeVars(b, v) : v;
  }
  return out;
}

function isPlain(v: unknown): v is Record<string, Json> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
