/**
 * Paths a recipe names (`source:`, `template:`) must stay inside their folder of the repository:
 * no absolute paths, no `..`, no symlink that leads out.
 */
import { posix } from "node:path";
import type { Problem } from "./errors.js";
import { type RepoSource, tooLarge } from "./repo.js";

/**
 * A relative path that posix.normalize leaves as it is and that cannot leave its folder: segments
 * that are not empty, "." or "..", without "\\" or NUL. Nearly every path a recipe names is one,
 * and it needs neither the escape checks nor normalising (a compile checks thousands).
 */
const PLAIN = /^(?!\.\.?(?:\/|$))[^/\\\0]+(?:\/(?!\.\.?(?:\/|$))[^/\\\0]+)*$/;

/** The repository path of `rel` under `folder`, or a problem. */
export function checkRepoPath(
  repo: RepoSource,
  folder: string,
  rel: string,
  what: "source" | "template",
): string | Problem {
  let full: string;
  if (PLAIN.test(rel) && PLAIN.test(folder)) full = `${folder}/${rel}`;
  else if (rel.startsWith("/") || rel.split(/[\\/]/).includes("..") || rel.includes("\0")) {
    return {
      code: "TEND_E_PATH_ESCAPE",
      message: `${what} "${rel}" leaves the recipe folder; name a file inside ${folder}/ without ".." or a leading "/"`,
    };
  } else full = posix.normalize(posix.join(folder, rel));
  // Every component must be a real directory or file: a symlink could lead anywhere.
  for (let end = full.indexOf("/"); ; end = full.indexOf("/", end + 1)) {
    const p = end < 0 ? full : full.slice(0, end);
    const st = repo.stat(p);
    if (!st) {
      return {
        code: what === "source" ? "TEND_E_SOURCE_MISSING" : "TEND_E_TEMPLATE_MISSING",
        message: `${what} "${rel}" does not exist (looked for ${full})`,
      };
    }
    if (st.type === "symlink") {
      return {
        code: "TEND_E_PATH_ESCAPE",
        message: `${what} "${rel}" goes through a symbolic link (${p}) that leaves the repository; copy the file into ${folder}/ instead`,
      };
    }
    if (end < 0) {
      if (st.type !== "file") {
        return {
          code: what === "source" ? "TEND_E_SOURCE_MISSING" : "TEND_E_TEMPLATE_MISSING",
          message: `${what} "${rel}" is not a file (${full})`,
        };
      }
      const big = tooLarge(repo, full, `${what} "${rel}" (${full})`);
      if (big) return big;
      break;
    }
  }
  return full;
}
