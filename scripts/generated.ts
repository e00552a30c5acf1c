/**
 * Every file derived from another, computed in memory: `npm run gen` writes them and
 * test/core/generated.test.ts checks the committed copies equal them.
 * - the kinds' registry and rules (agent/resources/index.ts, core/generated/kinds.ts), the kinds'
 *   parts of schemas/recipe.schema.json and schemas/catalog.schema.json, docs/resources.md — from
 *   the kind modules (scripts/gen-kinds.ts);
 * - core/generated/validators.js (precompiled ajv validators, so start-up compiles no schema);
 * - docs/errors.md (from core/codes.ts) and docs/recipe-reference.md (from the schemas).
 * JSON and TypeScript outputs are formatted by biome, as the committed files are.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { codes } from "../core/codes.js";
import {
  catalogSchemaWithKinds,
  type Doc,
  generateKindIndex,
  generateKindRules,
  loadKinds,
  recipeSchemaWithKinds,
} from "./gen-kinds.js";
import {
  errorsDocPath,
  generateDeclarations,
  generateErrorsDoc,
  generateRecipeDoc,
  generateValidators,
  loadSchemas,
  recipeDocPath,
  schemasDir,
  validatorsPath,
} from "./gen-lib.js";
import { renderReference, resourcesDocPath } from "./gen-resource-docs.js";

const root = fileURLToPath(new URL("..", import.meta.url));
export const kindIndexPath = join(root, "agent", "resources", "index.ts");
export const kindRulesPath = join(root, "core", "generated", "kinds.ts");

/** Text as `biome format` leaves it, for a file at `path` (its extension picks the language). */
export function biomeFormat(path: string, text: string): string {
  return execFileSync(join(root, "node_modules", ".bin", "biome"), ["format", `--stdin-file-path=${path}`], {
    input: text,
    encoding: "utf8",
    cwd: root,
  });
}

export async function generatedFiles(resourcesDir?: string): Promise<[string, string][]> {
  const kinds = await loadKinds(resourcesDir);
  const schemas = loadSchemas() as Record<string, Doc>;
  const read = (name: string) => JSON.parse(readFileSync(join(schemasDir, `${name}.schema.json`), "utf8"));
  const recipe = recipeSchemaWithKinds(read("recipe"), kinds);
  const catalog = catalogSchemaWithKinds(read("catalog"), recipe.$defs, kinds);
  // Validators compile the schemas as generated here, without `$schema` (loadSchemas drops it).
  for (const [name, s] of [
    ["recipe", recipe],
    ["catalog", catalog],
  ] as const) {
    const { $schema: _, ...rest } = s;
    schemas[name] = rest;
  }
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  return [
    [join(schemasDir, "recipe.schema.json"), biomeFormat("x.json", json(recipe))],
    [join(schemasDir, "catalog.schema.json"), biomeFormat("x.json", json(catalog))],
    [kindRulesPath, generateKindRules(kinds)],
    [kindIndexPath, biomeFormat("x.ts", generateKindIndex(kinds))],
    [validatorsPath, generateValidators(schemas)],
    [validatorsPath.replace(/\.js$/, ".d.ts"), generateDeclarations(schemas)],
    [errorsDocPath, generateErrorsDoc(codes)],
    [recipeDocPath, generateRecipeDoc(schemas)],
    [resourcesDocPath, renderReference(kinds.map((k) => k.kind.spec))],
  ];
}
