// normalize: a file's path is named as posix.normalize names it (without a trailing slash), and a
// path with ".." is refused, whether or not it takes the fast path for paths already normal.
import { posix } from "node:path";
import t from "tap";
import { normalize } from "../../core/normalize.js";

/** What normalize named a file before its fast path. */
function reference(name: string): { name: string; refused: boolean } {
  const normal = posix.normalize(name);
  return {
    name: normal.length > 1 ? normal.replace(/\/$/, "") : normal,
    refused: name.split("/").includes(".."),
  };
}

t.test("file paths: normal ones as they are, others normalised, '..' refused", async (t) => {
  const names = [
    "/etc/motd",
    "/etc//motd",
    "/etc/./motd",
    "/etc/../motd",
    "/etc/motd/",
    "/etc/.",
    "/",
    "//",
    "/a/.b",
    "/a/..b",
    "/a/...",
    "/a/b..",
    "relative/x",
    "x",
    "./x",
    "/a\\b",
    "/srv/bench/r0/d0/f5.txt",
  ];
  for (const name of names) {
    const failures: string[] = [];
    const d = normalize({ file: name }, { recipe: "r", file: "r/recipe.yaml", path: ["resources", 0] }, (m) =>
      failures.push(m),
    );
    const want = reference(name);
    t.equal(d?.name, want.name, name);
    t.equal(d?.id, `file:${want.name}`);
    t.equal(failures.length > 0, want.refused, `${name}: refused only with ".."`);
  }
});
