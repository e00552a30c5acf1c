/**
 * Regenerates the files derived from schemas/: core/generated/validators.js, precompiled ajv
 * validators (start-up stays fast: no schema compilation at run time). `npm run gen`; a test fails
 * when the committed output is out of date.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { generateDeclarations, generateValidators, validatorsPath } from "./gen-lib.js";

const out = generateValidators();
writeFileSync(validatorsPath, out);
writeFileSync(validatorsPath.replace(/\.js$/, ".d.ts"), generateDeclarations());
process.stdout.write(`wrote ${fileURLToPath(new URL(`file://${validatorsPath}`))}\n`);
