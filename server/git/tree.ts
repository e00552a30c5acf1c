/**
 * One commit's recipe folder held in memory, as the compiler's `RepoSource`. Symlinks are kept as
 * such (never followed); `escapingSymlinks` names those that point outside the folder.
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import type { Problem } from "../../core/errors.js";
import type { RepoEntry, RepoSource } from "../../core/repo.js";

/** A file of the tree: its bytes, or only its size when it was over the limit and left unread. */
export interface TreeEntry {
  path: string;
  symlink: boolean;
  data: Buffer | null;
  size?: number;
  /** The git blob id (parse results are shared between commits by it). */
  id?: string;
  /** A large file left unread (data null) and hashed as git streamed it: its sha256. */
  sha256?: string;
}

export class GitTree implements RepoSource {
  private readonly files = new Map<string, Buffer>();
  /** Files over the size limit: their size only (the compiler refuses them before reading). */
  private readonly unread = new Map<string, number>();
  private readonly links = new Map<string, string>();
  private readonly dirs = new Map<string, Set<string>>([["", new Set()]]);
  private readonly ids = new Map<string, string>();
  /** Large files (unread, streamed): their sha256 and git blob id, by path. */
  private readonly large = new Map<string, { sha256: string; id: string; size: number }>();
  /** The git blob id of each large file, by its sha256. */
  private readonly blobBySha = new Map<string, string>();
  private readonly heldBySha = new Map<string, Buffer>();

  constructor(
    readonly label: string,
    entries: TreeEntry[],
    readonly maxFileBytes?: number,
    /** The git tree id of the folder: the same id is the same files, byte for byte. */
    readonly treeId?: string,
    /** Reads a large blob whole, for the rare recipe or template that is one (not for sources). */
    private readonly readBlob?: (id: string, size: number) => Buffer,
  ) {
    for (const e of entries) {
      if (e.symlink) this.links.set(e.path, (e.data ?? Buffer.alloc(0)).toString("utf8"));
      else if (e.data) this.files.set(e.path, e.data);
      else this.unread.set(e.path, e.size ?? 0);
      if (!e.symlink && !e.data && e.sha256 && e.id) {
        this.large.set(e.path, { sha256: e.sha256, id: e.id, size: e.size ?? 0 });
        this.blobBySha.set(e.sha256, e.id);
      }
      if (e.id) this.ids.set(e.path, e.id);
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

  /** The file's git blob id (parse results are shared by it between commits). */
  contentId(path: string): string | undefined {
    return this.ids.get(this.key(path));
  }

  read(path: string): Buffer {
    const k = this.key(path);
    const data = this.files.get(k);
    if (data) return data;
    const big = this.large.get(k);
    if (big && this.readBlob) return this.readBlob(big.id, big.size);
    throw new Error(`${path} is not a file in ${this.label}`);
  }

  /** The sha256 of a file: a large one's is known from when git streamed it (never read whole). */
  sha256(path: string): string {
    const k = this.key(path);
    const big = this.large.get(k);
    if (big) return big.sha256;
    const data = this.read(k);
    const sha = createHash("sha256").update(data).digest("hex");
    this.heldBySha.set(sha, data);
    return sha;
  }

  /** The bytes of a file already held whose sha256 was asked (a tree built without streaming). */
  bytesOf(sha256: string): Buffer | undefined {
    return this.heldBySha.get(sha256);
  }

  /** The git blob holding a large file's bytes, by their sha256 (what the server streams to a node). */
  blobOf(sha256: string): string | undefined {
    return this.blobBySha.get(sha256);
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
