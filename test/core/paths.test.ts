// checkRepoPath: the fast path for plain names gives exactly what normalising gives, and every
// path that could leave its folder is refused.
import { posix } from "node:path";
import t from "tap";
import { checkRepoPath } from "../../core/paths.js";
import type { RepoSource } from "../../core/repo.js";

/** A repository where every path exists: a file when it is the one asked for, else a folder. */
function everything(file: string): RepoSource {
  return {
    label: "test",
    stat: (p) => (p === file ? { type: "file" } : { type: "dir" }),
    read: () => Buffer.alloc(0),
    list: () => [],
    size: (p) => (p === file ? 0 : undefined),
  };
}

/** What checkRepoPath answered before the fast path: escape checks, then posix.normalize. */
function reference(folder: string, rel: string): string {
  if (rel.startsWith("/") || rel.split(/[\\/]/).includes("..") || rel.includes("\0")) return "escape";
  return posix.normalize(posix.join(folder, rel));
}

t.test("plain and unusual names resolve as normalising them would", async (t) => {
  const rels = [
    "a.txt",
    "files/a.txt",
    ".hidden",
    "..x",
    "x..",
    "...",
    "a/.../b",
    "a/./b",
    "./a",
    "a//b",
    "a/",
    "a/.",
    "a/b/..",
    "../x",
    "a/../../x",
    "a\\..\\x",
    "a\\b",
    "/etc/passwd",
    "x\0y",
    "a/..b/c",
  ];
  for (const folder of ["base", "base/templates", "odd/./folder"]) {
    for (const rel of rels) {
      const want = reference(folder, rel);
      const got = checkRepoPath(everything(want), folder, rel, "source");
      if (want === "escape") t.equal(typeof got === "string" ? got : got.code, "TEND_E_PATH_ESCAPE", rel);
      else t.equal(got, want, `${folder} + ${JSON.stringify(rel)}`);
    }
  }
});
