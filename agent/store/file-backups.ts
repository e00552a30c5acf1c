/**
 * The local backup store: content replaced or removed by a file resource, kept so an admin can
 * restore it (`tend backup list|restore`). Content-addressed: `backups/objects/ab/abcdef…` holds the
 * bytes once however often they are backed up; `backups/index.jsonl` records each backup (path,
 * time, sha256, mode, owner). Everything is 0600/0700: backups may hold secrets.
 */
import { createHash, randomBytes } from "node:crypto";
import { constants, promises as fsp, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { atomicWrite, fsyncDir } from "../sys/atomic-write.js";

export interface BackupRecord {
  /** The content's sha256, shortened: what `tend backup restore --at` takes. */
  id: string;
  path: string;
  /** ISO 8601, when the content was replaced. */
  time: string;
  sha256: string;
  size: number;
  /** Permission bits and owner the file had. */
  mode: number;
  uid: number;
  gid: number;
}

export const ID_LENGTH = 12;

export class BackupStore {
  readonly dir: string;
  /** Objects known to be stored (durably), so a run backing up the same content twice writes it once. */
  private readonly stored = new Set<string>();
  /** Whether index.jsonl's own directory entry was made durable by this instance. */
  private indexSynced = false;

  constructor(stateDir: string) {
    this.dir = join(stateDir, "backups");
  }

  private objectPath(sha: string): string {
    return join(this.dir, "objects", sha.slice(0, 2), sha);
  }

  /**
   * Keep `content` (the file at `path` that is about to be replaced); durable before it returns, so
   * the caller may replace the file: the object (data fsynced, then its directory), any directory
   * this made (its parent fsynced) and the index line (fsynced). Content already stored is not
   * written again (objects are named by their sha256 and written whole by atomic rename).
   */
  async save(
    path: string,
    content: Buffer | fsp.FileHandle,
    meta: { mode: number; uid: number; gid: number },
  ): Promise<BackupRecord> {
    // A large file comes as an open handle: copied to a private temp file in chunks while hashed,
    // then stored under its hash like any other (never held whole in memory).
    if (Buffer.isBuffer(content)) return this.record(path, content, meta);
    const copied = await this.spool(content);
    try {
      return await this.record(path, copied, meta);
    } finally {
      await fsp.unlink(copied.file).catch(() => {});
    }
  }

  /**
   * Removes the spool files a killed run left in `backups/` (a large file's copy on its way to
   * becoming an object); returns their names. Call only while holding the run lock.
   */
  sweepSpools(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const gone: string[] = [];
    for (const n of names) {
      if (!/^\.spool-[0-9a-f]{12}\.tmp$/.test(n)) continue;
      try {
        unlinkSync(join(this.dir, n));
        gone.push(join(this.dir, n));
      } catch {
        // another process's, or already gone: left alone
      }
    }
    return gone;
  }

  /** Copies the open file into `backups/.spool-…` in chunks; its size and sha256. */
  private async spool(fh: fsp.FileHandle): Promise<{ file: string; sha256: string; size: number }> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, `.spool-${randomBytes(6).toString("hex")}.tmp`);
    const out = await fsp.open(
      file,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    const hash = createHash("sha256");
    let size = 0;
    try {
      const buf = Buffer.allocUnsafe(1024 * 1024);
      for (let pos = 0; ; ) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        await out.write(buf, 0, bytesRead);
        pos += bytesRead;
        size += bytesRead;
      }
    } catch (err) {
      await out.close().catch(() => {});
      await fsp.unlink(file).catch(() => {});
      throw err;
    }
    await out.close();
    return { file, sha256: hash.digest("hex"), size };
  }

  private async record(
    path: string,
    content: Buffer | { file: string; sha256: string; size: number },
    meta: { mode: number; uid: number; gid: number },
  ): Promise<BackupRecord> {
    const isBytes = Buffer.isBuffer(content);
    const sha256 = isBytes ? createHash("sha256").update(content).digest("hex") : content.sha256;
    const size = isBytes ? content.length : content.size;
    const obj = this.objectPath(sha256);
    const exists =
      this.stored.has(sha256) ||
      (await fsp.stat(obj).then(
        (s) => s.size === size,
        () => false,
      ));
    if (!exists) {
      const shard = dirname(obj);
      const made = await fsp.mkdir(shard, { recursive: true, mode: 0o700 });
      await atomicWrite(obj, isBytes ? content : { file: content.file, sha256 }, { mode: 0o600 });
      // A directory made just now is durable only once its parent is synced, up to the first one made.
      if (made !== undefined)
        for (let d = shard; d.length >= made.length; d = dirname(d)) await fsyncDir(dirname(d));
    }
    this.stored.add(sha256);
    const record: BackupRecord = {
      id: sha256.slice(0, ID_LENGTH),
      path,
      time: new Date().toISOString(),
      sha256,
      size,
      mode: meta.mode & 0o7777,
      uid: meta.uid,
      gid: meta.gid,
    };
    const h = await fsp.open(
      join(this.dir, "index.jsonl"),
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      await h.write(`${JSON.stringify(record)}\n`);
      await h.sync();
    } finally {
      await h.close();
    }
    if (!this.indexSynced) {
      await fsyncDir(this.dir); // index.jsonl may have just been created
      this.indexSynced = true;
    }
    return record;
  }

  /** Backups, newest first; only those of `path` when given. */
  list(path?: string): BackupRecord[] {
    let text: string;
    try {
      text = readFileSync(join(this.dir, "index.jsonl"), "utf8");
    } catch {
      return [];
    }
    const out: BackupRecord[] = [];
    for (const line of text.split("\n")) {
      if (!line) continue;
      try {
        const r = JSON.parse(line) as BackupRecord;
        if (!path || r.path === path) out.push(r);
      } catch {
        // A line torn by a crash mid-append: skip it, keep the rest.
      }
    }
    return out.reverse();
  }

  /** The bytes of a backup, checked against its hash. */
  async read(record: BackupRecord): Promise<Buffer> {
    const data = await fsp.readFile(this.objectPath(record.sha256));
    const sha = createHash("sha256").update(data).digest("hex");
    if (sha !== record.sha256)
      throw new Error(`backup object ${record.sha256} is corrupt (its sha256 is ${sha})`);
    return data;
  }
}
