/**
 * Regenerates every file derived from another (scripts/generated.ts lists them): `npm run gen`.
 * test/core/generated.test.ts fails when a committed copy is out of date.
 */
import { writeFileSync } from "node:fs";
import { generatedFiles } from "./generated.js";

for (const [path, text] of await generatedFiles()) {
  writeFileSync(path, text);
  process.stdout.write(`wrote ${path}\n`);
}
