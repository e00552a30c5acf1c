/**
 * A recipe repository on disk, as a RepoSource. A symbolic link that stays inside the repository
 * is followed; one that leads out is reported as "symlink", which the compiler refuses.
 */
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import type { RepoEntry, RepoSource } from "../core/repo.js";

export function fsRepo(dir: string): RepoSource {
  const root = realpathSync(resolve(dir));
  const cache = new Map<string, RepoEntry | undefined>();
  const abs = (p: string) => (p ? join(root, p) : root);
  const stat = (p: string): RepoEntry | undefined => {
    if (cache.has(p)) return cache.get(p);
    let entry: RepoEntry | undefined;
    try {
      const st = lstatSync(abs(p));
      if (st.isSymbolicLink()) {
        const real = realpathSync(abs(p));
        if (real === root || real.startsWith(root + sep)) {
          entry = statSync(real).isDirectory() ? { type: "dir" } : { type: "file" };
        } else entry = { type: "symlink" };
      } else if (st.isDirectory()) entry = { type: "dir" };
      else if (st.isFile()) entry = { type: "file" };
    } catch {
      entry = undefined;
    }
    cache.set(p, entry);
    return entry;
  };
  return {
    label: dir,
    stat,
    read(p) {
      const e = stat(p);
      if (e?.type !== "file") throw new Error(`${p} is not a file in ${dir}`);
      return readFileSync(abs(p));
    },
    list(p) {
      try {
        return readdirSync(abs(p)).sort();
      } catch {
        return [];
      }
    },
  };
}
