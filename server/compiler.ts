/**
 * The compiler the server uses, behind a small seam so tests can count compiles: core's
 * `compile` and, when core/validate.ts is present, its whole-repository `validateRepo`.
 */
import { compile } from "../core/compile.js";
import type { Problem } from "../core/errors.js";
import type { RepoSource } from "../core/repo.js";
import type { Catalog, Facts } from "../core/types.js";

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
  // Imported by name at run time so the server builds before core/validate.ts lands.
  const spec = "../core/validate.js";
  const mod = (await import(spec).catch(() => undefined)) as Partial<CompilerFns> | undefined;
  return {
    compile,
    validateRepo:
      mod?.validateRepo ?? (() => ({ problems: [], summary: "no repository validator available" })),
  };
}
