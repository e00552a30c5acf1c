/**
 * One commit's recipe folder held in memory, as the compiler's `RepoSource`. Symlinks are kept as
 * such (never followed); `escapingSymlinks` names those that point outside the folder.
 */
import { posix } from "node:path";
import type { Problem } from "../../core/errors.js";
import type { RepoEntry, RepoSource } from "../../core/repo.js";

/** A file of the tree: its bytes, or only its size when it was over the limit and left unread. */
export interface TreeEntry {
  path: string;
  symlink: boolean;
  data: Buffer | null;
  size?: number;
}

export class GitTree implements RepoSource {
  private readonly files = new Map<string, Buffer>();
  /** Files over the size limit: their size only (the compiler refuses them before reading). */
  private readonly unread = new Map<string, number>();
  private readonly links = new Map<string, string>();
  private readonly dirs = new Map<string, Set<string>>([["", new Set()]]);

  constructor(
    readonly label: string,
    entries: TreeEntry[],
    readonly maxFileBytes?: number,
  ) {
    for (const e of entries) {
      if (e.symlink) this.links.set(e.path, (e.data ?? Buffer.alloc(0)).toString("utf8"));
      else if (e.data) this.files.set(e.path, e.data);
      else this.unread.set(e.path, e.size ?? 0);
      let child = e.path;
      let parent = posix.dirname(child);
      while (true) {
        const key = parent === "." ? "" : parent;
        let names = this.dirs.get(key);
        if (!names) {
          names = new Set();
          this.dirs.set(key, names);
        }
        names.add(posix.basename(child));
        if (key === "") break;
        child = parent;
        parent = posix.dirname(parent);
      }
    }
  }

  private key(path: string): string {
    return posix
      .normalize(path)
      .replace(/^\.?\/+|\/+$/g, "")
      .replace(/^\.$/, "");
  }

  stat(path: string): RepoEntry | undefined {
    const k = this.key(path);
    if (this.files.has(k) || this.unread.has(k)) return { type: "file" };
    if (this.links.has(k)) return { type: "symlink" };
    if (this.dirs.has(k)) return { type: "dir" };
    return undefined;
  }

  read(path: string): Buffer {
    const data = this.files.get(this.key(path));
    if (!data) throw new Error(`${path} is not a file in ${this.label}`);
    return data;
  }

  size(path: string): number | undefined {
    const k = this.key(path);
    return this.files.get(k)?.length ?? this.unread.get(k);
  }

  list(path: string): string[] {
    return [...(this.dirs.get(this.key(path)) ?? [])].sort();
  }

  /** Every file's path, sorted. */
  paths(): string[] {
    return [...this.files.keys(), ...this.unread.keys()].sort();
  }

  escapingSymlinks(): Problem[] {
    const problems: Problem[] = [];
    for (const [path, target] of this.links) {
      const resolved = posix.normalize(posix.join(posix.dirname(path), target));
      if (posix.isAbsolute(target) || resolved === ".." || resolved.startsWith("../")) {
        problems.push({
          code: "TEND_E_PATH_ESCAPE",
          message: `is a symlink to "${target}", outside the recipe folder; replace it with the file itself.`,
          file: path,
        });
      }
    }
    return problems;
  }
}
