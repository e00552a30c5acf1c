// core/yaml.ts: which parser speaks when a file does not parse, and where it points.
import t from "tap";
import { parseYaml } from "../../core/yaml.js";

t.test("a mistake before deeply bracketed text is located by the fast parser alone", async (t) => {
  // Found by the recipe fuzzer: the slow parser's time grows with the square of the nesting (15 s
  // for this file), so it is not asked; js-yaml's message and place are given.
  const text = `- name: "*"\n  recipes: [web]\n\nx: ${"[".repeat(65_000)}\n`;
  const r = parseYaml(text, "nodes.yaml");
  t.equal(r.parsed, undefined);
  t.same(r.problems, [
    {
      code: "TEND_E_YAML",
      message: "YAML syntax: end of the stream or a document separator is expected",
      file: "nodes.yaml",
      line: 4,
      column: 1,
    },
  ]);
});

t.test("an ordinary mistake still gets the slow parser's better message", async (t) => {
  const r = parseYaml("resources:\n  - package: [nginx\n", "web/recipe.yaml");
  t.equal(r.problems.length > 0, true);
  t.match(r.problems[0], { code: "TEND_E_YAML", file: "web/recipe.yaml", line: Number });
  t.notMatch(r.problems[0]!.message, /end of the stream/);
});
