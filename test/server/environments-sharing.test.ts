/**
 * Issue 13, part 6: many branches share what they have in common, exactly. Trees of two commits
 * share the bytes of their common files (by git blob id), and a recipe unchanged between them is
 * parsed once (by blob id); a changed one never comes from the other's parse.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { Compiler } from "../../core/compile.js";
import type { ParseCache } from "../../core/load.js";
import { GitMirror } from "../../server/git/mirror.js";
import { commitOn } from "../helpers/server-branches.js";
import { facts, TestRepo } from "../helpers/server-git.js";

t.test("commits of two branches share common files and parses, never changed ones", async (t) => {
  const repo = new TestRepo();
  t.teardown(() => repo.cleanup());
  const dir = mkdtempSync(join(tmpdir(), "tend-sharing-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const recipe = (path: string) => `description: r\nresources:\n  - file: ${path}\n    content: "x\\n"\n`;
  const main = repo.commit(
    {
      "nodes.yaml": '- name: "*"\n  recipes: [a, b]\n',
      "a/recipe.yaml": recipe("/etc/a"),
      "b/recipe.yaml": recipe("/etc/b"),
    },
    "main",
  );
  const staging = commitOn(repo, "staging", {
    "b/recipe.yaml": recipe("/etc/issue"),
  });
  const mirror = new GitMirror(join(dir, "m.git"), repo.dir, "main");
  await mirror.fetch();
  const [one, two] = [await mirror.tree(main, ""), await mirror.tree(staging, "")];
  t.equal(
    one.read("a/recipe.yaml"),
    two.read("a/recipe.yaml"),
    "the same Buffer holds a file both commits have",
  );
  t.not(one.read("b/recipe.yaml"), two.read("b/recipe.yaml"));
  t.ok(one.treeId && two.treeId && one.treeId !== two.treeId, "trees carry their git tree ids");
  t.equal((await mirror.tree(main, "")).treeId, one.treeId, "the same commit, the same tree id");

  const shared: ParseCache = new Map();
  const c1 = new Compiler(one, shared);
  const c2 = new Compiler(two, shared);
  const f = facts("web-1") as never;
  const cat1 = c1.compile("web-1", f).catalog!;
  const cat2 = c2.compile("web-1", f).catalog!;
  t.equal(c1.loader.loadRecipe("a"), c2.loader.loadRecipe("a"), "an unchanged recipe is parsed once");
  t.equal(c1.loader.loadNodes(), c2.loader.loadNodes(), "so is an unchanged nodes.yaml");
  t.not(c1.loader.loadRecipe("b"), c2.loader.loadRecipe("b"), "a changed recipe is parsed for itself");
  t.same(
    cat1.resources.map((r) => r.id),
    ["file:/etc/a", "file:/etc/b"],
    "main: its two recipes",
  );
  t.same(
    cat2.resources.map((r) => r.id).sort(),
    ["file:/etc/a", "file:/etc/issue"],
    "staging's catalog has staging's recipe, not main's parse of it",
  );
});
