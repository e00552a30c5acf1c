// Every generated file (validators, the kinds' registry and rules, the kinds' parts of the schemas,
// the reference docs) is what `npm run gen` makes of its sources today.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import t from "tap";
import { generatedFiles } from "../../scripts/generated.js";

t.test("generated files are up to date (run `npm run gen` when this fails)", async (t) => {
  const files = await generatedFiles();
  t.ok(files.length >= 9, "every generated file is listed");
  for (const [path, text] of files) t.equal(readFileSync(path, "utf8"), text, relative(process.cwd(), path));
});
