import { readFileSync } from "node:fs";
import t from "tap";
import { kinds } from "../../../agent/resources/index.js";
import { resourcesDoc, resourcesDocPath } from "../../../scripts/gen-resource-docs.js";

t.test("docs/resources.md is generated from the kinds' schemas and up to date", async (t) => {
  t.equal(readFileSync(resourcesDocPath, "utf8"), resourcesDoc(), "run: npm run gen");
});

t.test("every parameter of every kind has a title and a description", async (t) => {
  for (const kind of Object.values(kinds)) {
    const props = (kind.schema as { properties: Record<string, { title?: string; description?: string }> })
      .properties;
    for (const [name, p] of Object.entries(props)) {
      t.ok(p.title && p.description, `${kind.type}.${name} has a title and a description`);
    }
  }
});
