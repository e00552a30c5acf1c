/**
 * Regenerates every file derived from another: core/generated/validators.js (precompiled ajv
 * validators, so start-up compiles no schema), docs/errors.md (from core/codes.ts) and
 * docs/recipe-reference.md (from the schemas) and docs/resources.md (from the kinds' parameter
 * schemas). `npm run gen`; test/core/generated.test.ts fails
 * when a committed copy is out of date.
 */
import { writeFileSync } from "node:fs";
import { codes } from "../core/codes.js";
import {
  errorsDocPath,
  generateDeclarations,
  generateErrorsDoc,
  generateRecipeDoc,
  generateValidators,
  recipeDocPath,
  validatorsPath,
} from "./gen-lib.js";
import { resourcesDoc, resourcesDocPath } from "./gen-resource-docs.js";

const outputs: [string, string][] = [
  [validatorsPath, generateValidators()],
  [validatorsPath.replace(/\.js$/, ".d.ts"), generateDeclarations()],
  [errorsDocPath, generateErrorsDoc(codes)],
  [recipeDocPath, generateRecipeDoc()],
  [resourcesDocPath, resourcesDoc()],
];
for (const [path, text] of outputs) {
  writeFileSync(path, text);
  process.stdout.write(`wrote ${path}\n`);
}
