/**
 * A recipe repository on disk, as a RepoSource. A symbolic link that stays inside the repository
 * is followed; one that leads out is reported as "symlink", which the compiler refuses.
 */
import { type Dirent, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { maxFileBytesFromEnv, type RepoEntry, type RepoSource } from "../core/repo.js";
import { hashFileSync } from "./sys/hash-file.js";

/** A repository on disk: also says where the bytes of a file it hashed (a large one) are. */
export interface FsRepo extends RepoSource {
  sha256(path: string): string;
  /** The absolute path of a file whose sha256 was asked, by that sha256 (a large file's bytes). */
  fileOf(sha: string): string | undefined;
}

export function fsRepo(dir: string, maxFileBytes = maxFileBytesFromEnv()): FsRepo {
  const root = realpathSync(resolve(dir));
  const cache = new Map<string, RepoEntry | undefined>();
  const hashed = new Map<string, string>();
  const abs = (p: string) => (p ? join(root, p) : root);
  // One readdir per folder answers the stat of all its entries: a repository of thousands of
  // files costs a few dozen system calls, not one lstat per file.
  const dirs = new Map<string, Map<string, Dirent> | null>();
  const entries = (p: string): Map<string, Dirent> | null => {
    let m = dirs.get(p);
    if (m === undefined) {
      try {
        m = new Map(readdirSync(abs(p), { withFileTypes: true }).map((d) => [d.name, d]));
      } catch {
        m = null;
      }
      dirs.set(p, m);
    }
    return m;
  };
  const stat = (p: string): RepoEntry | undefined => {
    if (p === "") return { type: "dir" };
    if (cache.has(p)) return cache.get(p);
    const slash = p.lastIndexOf("/");
    const parent = slash < 0 ? "" : p.slice(0, slash);
    const parentEntry = stat(parent);
    const d = parentEntry?.type === "dir" ? entries(parent)?.get(p.slice(slash + 1)) : undefined;
    let entry: RepoEntry | undefined;
    if (!d) entry = undefined;
    else if (d.isSymbolicLink()) {
      try {
        const real = realpathSync(abs(p));
        if (real === root || real.startsWith(root + sep)) {
          entry = statSync(real).isDirectory() ? { type: "dir" } : { type: "file" };
        } else entry = { type: "symlink" };
      } catch {
        entry = undefined;
      }
    } else if (d.isDirectory()) entry = { type: "dir" };
    else if (d.isFile()) entry = { type: "file" };
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
      return [...(entries(p)?.keys() ?? [])].sort();
    },
    size(p) {
      if (stat(p)?.type !== "file") return undefined;
      try {
        return statSync(abs(p)).size;
      } catch {
        return undefined;
      }
    },
    maxFileBytes,
    sha256(p) {
      if (stat(p)?.type !== "file") throw new Error(`${p} is not a file in ${dir}`);
      const real = realpathSync(abs(p));
      const sha = hashFileSync(real);
      hashed.set(sha, real);
      return sha;
    },
    fileOf: (sha) => hashed.get(sha),
  };
}
