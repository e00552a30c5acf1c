/** Masterless: compile a recipe folder on disk for this node. */
import { existsSync, statSync } from "node:fs";
import { compileOrThrow } from "../core/compile.js";
import { TendError } from "../core/errors.js";
import type { Catalog, Facts } from "../core/types.js";
import { fsRepo } from "./repo-fs.js";

export function compileDir(dir: string, node: string, facts: Facts): Catalog {
  assertRepoDir(dir);
  return compileOrThrow(fsRepo(dir), node, facts);
}

export function assertRepoDir(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new TendError(
      "TEND_E_NOT_FOUND",
      `${dir} is not a folder; give the path of a recipe repository (the folder holding nodes.yaml)`,
    );
  }
}
