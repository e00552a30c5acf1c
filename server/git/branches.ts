/**
 * Which branches the server follows (`recipes.branches`: names and globs, the first being the
 * default environment) and which nodes each branch's commits are judged against.
 */
import { globMatch } from "../../core/classify.js";

/** The followed branches among the mirror's heads, the default one first (when it exists). */
export function followedHeads(
  all: Map<string, string>,
  patterns: string[],
  defaultBranch: string,
): Map<string, string> {
  const out = new Map<string, string>();
  const head = all.get(defaultBranch);
  if (head) out.set(defaultBranch, head);
  for (const [branch, sha] of [...all].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (branch !== defaultBranch && isFollowed(branch, patterns)) out.set(branch, sha);
  }
  return out;
}

export function isFollowed(branch: string, patterns: string[]): boolean {
  return patterns.some((p) => p === branch || globMatch(p, branch));
}

/**
 * Whether a node whose recorded environment is `env` (null: never classified) is judged with the
 * commits of `branch`: the default branch takes every node not in another served environment
 * (a node whose branch went away falls back to it).
 */
export function judgedOn(
  env: string | null | undefined,
  branch: string,
  defaultBranch: string,
  served: (branch: string) => boolean,
): boolean {
  if (branch !== defaultBranch) return env === branch;
  return !env || env === defaultBranch || !served(env);
}
