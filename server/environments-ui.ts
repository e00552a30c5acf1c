/** The dashboard's view of environments: the commit page's branch tabs. */
import type { Deps } from "./deps.js";
import { branchKey } from "./environments.js";
import type { BranchTabs } from "./ui/pages/commits.js";

/** `/ui/commits?branch=B`: the branch shown and every followed branch (a 404 for another). */
export function commitTabs(d: Deps, query: unknown): BranchTabs | undefined {
  if (!d.gate) return undefined;
  const raw = (query as Record<string, unknown> | undefined)?.branch;
  const { branch, key } = branchKey(d, typeof raw === "string" ? raw : undefined);
  const branches = [
    d.gate.defaultBranch,
    ...[...d.gate.branchHeads().keys()].filter((b) => b !== d.gate?.defaultBranch),
  ];
  if (!branches.includes(branch)) branches.push(branch);
  return { branch, key, branches };
}
