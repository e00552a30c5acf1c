/**
 * Which environment (followed branch) a node's catalog is compiled from. The server decides, from
 * the default environment's nodes.yaml only: a rule's `environment:` puts the nodes it names there
 * (the last matching rule wins; the default branch otherwise), and its `allow_environments:` globs
 * let those nodes ask for another (`tend agent run --environment feature/x`). A request that is
 * not allowed, or names a branch not served, leaves the node where nodes.yaml puts it, with a note
 * the agent prints and its report carries. Only rules matched by name count: facts are the
 * node's own word (TRUST B2), so a rule with `facts:` never moves a node. A branch's own nodes.yaml
 * never decides who is in it: a pushed branch cannot pull production nodes into itself.
 */
import { globMatch, type Rule } from "../core/classify.js";
import { Loader } from "../core/load.js";
import type { Deps } from "./deps.js";
import type { GitGate, Live } from "./git/gate.js";
import type { GitTree } from "./git/tree.js";
import { HttpError } from "./http.js";
import type { NodeEnvironment, Storage } from "./storage/types.js";

export interface EnvironmentChoice {
  environment: string;
  live: Live;
  requested: string | null;
  /** Why the node is not where it asked, or where nodes.yaml puts it; null when it is. */
  note: string | null;
}

/** What the default environment's nodes.yaml says of a node: where it belongs, what it may ask. */
export interface EnvironmentRules {
  environment: string | null;
  allowed: string[];
}

const rulesByTree = new WeakMap<GitTree, Rule[]>();

function nodeRules(tree: GitTree): Rule[] {
  let rules = rulesByTree.get(tree);
  if (!rules) {
    rules = new Loader(tree).loadNodes().data ?? [];
    rulesByTree.set(tree, rules);
  }
  return rules;
}

/** The environment rules that apply to `node` (name-matched rules only, in order). */
export function environmentRules(rules: Rule[], node: string): EnvironmentRules {
  let environment: string | null = null;
  const allowed: string[] = [];
  for (const rule of rules) {
    if (rule.facts || rule.name === undefined || !globMatch(rule.name, node)) continue;
    if (rule.environment !== undefined) environment = rule.environment;
    const allow = rule.allow_environments;
    if (allow !== undefined) allowed.push(...(Array.isArray(allow) ? allow : [allow]));
  }
  return { environment, allowed };
}

/**
 * The environment `node` is served from, or null when no environment is served at all (no valid
 * commit on the default branch yet).
 */
export function chooseEnvironment(
  gate: GitGate,
  node: string,
  requested: string | null,
): EnvironmentChoice | null {
  const main = gate.live;
  if (!main) return null;
  const fallback = gate.defaultBranch;
  const rules = environmentRules(nodeRules(main.tree), node);
  const placed = rules.environment ?? fallback;
  const notes: string[] = [];
  let environment = placed;
  if (!gate.liveFor(placed)) {
    notes.push(
      `nodes.yaml puts ${node} in environment "${placed}", which is not served (${gate.follows(placed) ? "its branch has no valid commit, or was deleted" : "recipes.branches does not follow it"}); it gets "${fallback}" instead.`,
    );
    environment = fallback;
  }
  if (requested !== null && requested !== placed) {
    const allowed = rules.allowed.some((glob) => glob === requested || globMatch(glob, requested));
    if (!allowed) {
      const may = rules.allowed.length
        ? `only ${rules.allowed.map((g) => `"${g}"`).join(", ")} besides "${placed}"`
        : `only "${placed}"`;
      notes.push(
        `environment "${requested}" refused: nodes.yaml (on ${fallback}) allows ${node} ${may}; it gets "${environment}". Add allow_environments: ["${requested}"] to a rule naming ${node} to allow it.`,
      );
    } else if (!gate.liveFor(requested)) {
      notes.push(
        `environment "${requested}" refused: it is not served (${gate.follows(requested) ? "the branch has no valid commit, or was deleted" : "recipes.branches does not follow it"}); ${node} gets "${environment}".`,
      );
    } else {
      environment = requested;
    }
  }
  return {
    environment,
    live: gate.liveFor(environment)!,
    requested,
    note: notes.length ? notes.join(" ") : null,
  };
}

/**
 * Records the choice when it changed (one write per change, not per poll). `seen` remembers each
 * node's last recorded choice in this process.
 */
export async function recordChoice(
  storage: Storage,
  seen: Map<string, string>,
  node: string,
  c: EnvironmentChoice,
  now: number,
): Promise<void> {
  const key = JSON.stringify([c.environment, c.requested, c.note]);
  if (seen.get(node) === key) return;
  const e: NodeEnvironment = { environment: c.environment, requested: c.requested, note: c.note, at: now };
  await storage.setNodeEnvironment(node, e);
  seen.set(node, key);
}

/** The nodes last served the environment `branch` (signalled when it gets a new commit). */
export async function environmentNodes(storage: Storage, branch: string): Promise<string[]> {
  const envs = await storage.nodeEnvironments();
  return [...envs].filter(([, e]) => e.environment === branch).map(([node]) => node);
}

/** The catalog body's `environment`: what the agent asks for (a branch name). */
export const requestedEnvironment = {
  type: "string",
  pattern: "^(?!.*\\.\\.)[A-Za-z0-9_-][A-Za-z0-9._/-]*$",
  maxLength: 200,
  description:
    "The environment the node asks for; granted only when nodes.yaml allows it (docs/environments.md).",
};

/** X-Tend-Environment (what was served) and X-Tend-Environment-Note (why not what was asked). */
export function environmentHeaders(c: EnvironmentChoice): Record<string, string> {
  return {
    "x-tend-environment": c.environment,
    ...(c.note ? { "x-tend-environment-note": c.note } : {}),
  };
}

/** The catalog route's hook: the node's environment, recorded; null when nothing is served. */
export async function environmentFor(
  d: Deps,
  seen: Map<string, string>,
  node: string,
  requested: string | undefined,
): Promise<EnvironmentChoice | null> {
  if (!d.gate) return null;
  const choice = chooseEnvironment(d.gate, node, requested ?? null);
  if (choice) await recordChoice(d.storage, seen, node, choice, d.now());
  return choice;
}

/**
 * A `?branch=` of the commits API and page: the storage key (undefined for the default
 * environment's), or a 404 for a branch the server does not follow.
 */
export function branchKey(d: Deps, branch: string | undefined): { branch: string; key: string | undefined } {
  const main = defaultEnvironment(d);
  if (branch === undefined || branch === "" || branch === main) return { branch: main, key: undefined };
  if (!d.gate?.follows(branch)) {
    throw new HttpError(
      404,
      "TEND_E_HTTP_NOT_FOUND",
      `The server does not follow a branch "${branch}" (recipes.branches).`,
    );
  }
  return { branch, key: branch };
}

/** The default environment's name: the default branch's. */
export function defaultEnvironment(d: Deps): string {
  return d.gate?.defaultBranch ?? d.config.recipes?.branch ?? "main";
}

/** `environment` and `environment_note` of a node row in the read API. */
export const environmentFields = {
  environment: {
    type: "string",
    description: "The environment the node was last served (docs/environments.md).",
  },
  environment_note: {
    type: ["string", "null"],
    description:
      "Why the node is not where it asked, or where nodes.yaml puts it (a refusal, its branch deleted).",
  },
};

/** Rows naming a node, each with the node's environment (the default one when never classified). */
export async function withEnvironments<T extends { node?: string; name?: string }>(
  d: Deps,
  rows: T[],
): Promise<(T & { environment: string; environment_note: string | null })[]> {
  const envs = await d.storage.nodeEnvironments();
  const main = defaultEnvironment(d);
  return rows.map((r) => {
    const e = envs.get(r.node ?? r.name ?? "");
    return { ...r, environment: e?.environment ?? main, environment_note: e?.note ?? null };
  });
}
