/**
 * The compiler the server uses, behind a small seam so tests can count compiles. One core
 * `Compiler` per repository snapshot (a commit's tree), so compiling many nodes of one commit
 * parses its recipes and templates once.
 */
import { Compiler } from "../core/compile.js";
import type { Problem } from "../core/errors.js";
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

export async function coreCompiler(): Promise<CompilerFns> {
  const compilers = new WeakMap<RepoSource, Compiler>();
  const compilerFor = (repo: RepoSource): Compiler => {
    let c = compilers.get(repo);
    if (!c) {
      c = new Compiler(repo);
      compilers.set(repo, c);
    }
    return c;
  };
  return {
    compile: (repo, node, facts, opts) => compilerFor(repo).compile(node, facts, opts),
    validateRepo: (repo) => validateRepo(repo, compilerFor(repo)),
  };
}
