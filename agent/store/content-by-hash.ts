/**
 * The content store of masterless runs: the file contents of the cached catalog (agent/store/compile-cache.ts),
 * kept out of the cache file so that a run from the cache holds only the contents it actually needs (a
 * write or a diff), not every file's bytes. `STATE_DIR/content/ab/abcdef…`, named by sha256, 0600 in
 * 0700 directories.
 *
 * A blob is trusted only after its bytes hash to its name: `read` returns null for a missing, torn,
 * tampered or foreign blob, and the caller derives the content again (a fresh compile). That is why
 * `put` does not fsync: a blob a power loss tore or lost is caught by the hash on read and made
 * again, never used. Writes are still atomic (a private temp file created with O_EXCL|O_NOFOLLOW,
 * renamed into place), so a reader never sees a half-written blob under a valid name either.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

export const CONTENT_DIR = "content";
const SHA = /^[0-9a-f]{64}$/;
const TEMP = /^\.[0-9a-f]{64}\.[0-9a-f]{12}\.tmp$/;

export class ContentStore {
  readonly dir: string;
  /** Shard directories known to exist (made or seen) during this instance's life. */
  private readonly shards = new Set<string>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, CONTENT_DIR);
  }

  private path(sha: string): string {
    return join(this.dir, sha.slice(0, 2), sha);
  }

  /**
   * The stored blob for `sha` as a file to copy from in chunks (not hashed here: the copier checks
   * what it copied), or null when there is none of `size` bytes (when given).
   */
  file(sha: string, size?: number): { path: string; size: number } | null {
    if (!SHA.test(sha)) return null;
    const path = this.path(sha);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st?.isFile() || (size !== undefined && st.size !== size)) return null;
    return { path, size: st.size };
  }

  /**
   * Store the bytes of the file at `src` under `sha`, copied in chunks (a large file is never held
   * in memory) to a private temp file, renamed into place only when they hash to `sha`.
   */
  putFile(sha: string, src: string): void {
    if (!SHA.test(sha)) throw new Error(`content store: "${sha}" is not a sha256`);
    this.writeAs(sha, (out) => {
      const from = openSync(src, constants.O_RDONLY);
      try {
        const h = createHash("sha256");
        const buf = Buffer.allocUnsafe(1024 * 1024);
        for (let n = readSync(from, buf); n > 0; n = readSync(from, buf)) {
          h.update(buf.subarray(0, n));
          for (let off = 0; off < n; ) off += writeSync(out, buf, off, n - off);
        }
        if (h.digest("hex") !== sha)
          throw new Error(`content store: ${src} no longer hashes to ${sha} (changed since it was compiled)`);
      } finally {
        closeSync(from);
      }
    });
  }

  /**
   * Writes a blob under `sha`: `fill` writes a private temp file (created with
   * O_EXCL|O_NOFOLLOW in the blob's shard), which is renamed into place once `fill` returns; when it
   * throws, the temp file is removed and nothing is replaced.
   */
  private writeAs(sha: string, fill: (fd: number) => void): void {
    const shard = join(this.dir, sha.slice(0, 2));
    if (!this.shards.has(shard)) {
      mkdirSync(shard, { recursive: true, mode: 0o700 });
      this.shards.add(shard);
    }
    const temp = join(shard, `.${sha}.${randomBytes(6).toString("hex")}.tmp`);
    const fd = openSync(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    let closed = false;
    let renamed = false;
    try {
      fill(fd);
      closeSync(fd);
      closed = true;
      renameSync(temp, this.path(sha));
      renamed = true;
    } finally {
      if (!closed) closeSync(fd);
      if (!renamed) {
        try {
          unlinkSync(temp);
        } catch {}
      }
    }
  }

  /** The bytes stored for `sha`, or null when there are none or they do not hash to `sha`. */
  read(sha: string): Buffer | null {
    if (!SHA.test(sha)) return null;
    let fd: number;
    try {
      fd = openSync(this.path(sha), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return null;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return null;
      const data = Buffer.allocUnsafe(st.size);
      let off = 0;
      while (off < data.length) {
        const n = readSync(fd, data, off, data.length - off, off);
        if (n === 0) return null; // shrank under us: not the blob we were promised
        off += n;
      }
      return createHash("sha256").update(data).digest("hex") === sha ? data : null;
    } catch {
      return null;
    } finally {
      closeSync(fd);
    }
  }

  /** True when a blob of `size` bytes is stored under `sha` (not hashed: `read` checks). */
  has(sha: string, size: number): boolean {
    return this.file(sha, size) !== null;
  }

  /**
   * Store `data` under `sha` (which must be its sha256), replacing whatever is there: a private
   * temp file, then a rename. Throws when `data` does not hash to `sha`.
   */
  put(sha: string, data: Uint8Array): void {
    if (!SHA.test(sha) || createHash("sha256").update(data).digest("hex") !== sha)
      throw new Error(`content store: the bytes given for ${sha} do not hash to it`);
    this.writeAs(sha, (fd) => {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    });
  }

  /**
   * Remove every blob not in `keep`, and temp files an interrupted write left; empty shard
   * directories go too. One readdir per shard (at most 256). Call only while holding the run lock.
   * Returns how many entries were removed.
   */
  prune(keep: ReadonlySet<string>): number {
    let shards: string[];
    try {
      shards = readdirSync(this.dir);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const s of shards) {
      if (!/^[0-9a-f]{2}$/.test(s)) continue;
      const shard = join(this.dir, s);
      let names: string[];
      try {
        names = readdirSync(shard);
      } catch {
        continue;
      }
      let left = names.length;
      for (const name of names) {
        if ((SHA.test(name) && name.startsWith(s) && keep.has(name)) || !(SHA.test(name) || TEMP.test(name)))
          continue;
        try {
          unlinkSync(join(shard, name));
          removed++;
          left--;
        } catch {}
      }
      if (left === 0) {
        try {
          rmdirSync(shard);
          this.shards.delete(shard);
        } catch {}
      }
    }
    return removed;
  }
}
