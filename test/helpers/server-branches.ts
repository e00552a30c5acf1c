/** Branches of a real test repository, for the environment tests (docs/environments.md). */
import type { TestRepo } from "./server-git.js";

/** Commits `files` on `branch` (made from `from`, default main, when new); returns the sha. */
export function commitOn(
  repo: TestRepo,
  branch: string,
  files: Record<string, string>,
  message = `change on ${branch}`,
  from = "main",
): string {
  const exists = repo.git("branch", "--list", branch) !== "";
  repo.git("checkout", "-q", ...(exists ? [branch] : ["-b", branch, from]));
  try {
    return repo.commit(files, message);
  } finally {
    repo.git("checkout", "-q", "main");
  }
}

/** Creates `branch` at `from`'s head without a new commit; returns the sha. */
export function branchAt(repo: TestRepo, branch: string, from = "main"): string {
  repo.git("branch", "-f", branch, from);
  return repo.git("rev-parse", branch);
}

/** Recipes whose motd names the environment, so catalogs from two branches differ visibly. */
export function envRecipes(motd: string, nodes = '- name: "*"\n  recipes: [base]\n'): Record<string, string> {
  return {
    "nodes.yaml": nodes,
    "base/recipe.yaml": `description: base\nresources:\n  - file: /etc/motd\n    content: "${motd}\\n"\n`,
  };
}
