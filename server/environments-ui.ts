/** The dashboard's view of environments: the commit page's branch tabs, the fleet's filter. */
import type { Deps } from "./deps.js";
import { branchKey } from "./environments.js";
import type { BranchTabs } from "./ui/pages/commits.js";
import type { Environments } from "./ui/pages/environments.js";

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

/** The fleet page's environments: none without a recipe repository. */
export function fleetEnvironments(d: Deps): Environments | undefined {
  if (!d.gate) return undefined;
  return { default: d.gate.defaultBranch, served: d.gate.environments() };
}
