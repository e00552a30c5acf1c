/**
 * The compiler the server uses, behind a small seam so tests can count compiles. One core
 * `Compiler` per repository snapshot (a commit's tree), so compiling many nodes of one commit
 * parses its recipes and templates once; nodes.yaml and recipe.yaml parses are shared between
 * snapshots by git blob id, so many branches' commits parse their unchanged files once.
 */
import { Compiler } from "../core/compile.js";
import type { Problem } from "../core/errors.js";
import type { ParseCache } from "../core/load.js";
import type { RepoSource } from "../core/repo.js";
import type { Catalog, Facts } from "../core/types.js";
import { validateRepo } from "../core/validate.js";

export interface CompilerFns {
  compile(
    repo: RepoSource,
    node: string,
    facts: Facts,
    opts?: { commit?: string | null },
  ): {
    catalog?: Catalog;
    problems: Problem[];
  };
  validateRepo(repo: RepoSource): { problems: Problem[]; summary: string };
}

/** Parsed files kept for sharing between commits (each recipe.yaml of a branch is one). */
const maxShared = 20_000;

export async function coreCompiler(): Promise<CompilerFns> {
  const compilers = new WeakMap<RepoSource, Compiler>();
  // Parse results by git blob id, shared by every commit (of every branch) holding the same file:
  // 50 branches that differ in one file parse the other files once (docs/environments.md).
  const shared: ParseCache = new Map();
  const compilerFor = (repo: RepoSource): Compiler => {
    let c = compilers.get(repo);
    if (!c) {
      if (shared.size > maxShared) shared.clear();
      c = new Compiler(repo, shared);
      compilers.set(repo, c);
    }
    return c;
  };
  return {
    compile: (repo, node, facts, opts) => compilerFor(repo).compile(node, facts, opts),
    validateRepo: (repo) => validateRepo(repo, compilerFor(repo)),
  };
}
