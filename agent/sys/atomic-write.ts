/**
 * Atomic file replacement, safe as root in a directory others may write to (TRUST.md D3, D4, G1):
 * the temp file is created in the target's directory with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600,
 * the content written and fsynced, owner and mode set on the descriptor, then renamed over the
 * target and the directory fsynced. At every instant the target is the old file or the new one,
 * whole, and the new one is never visible with the wrong owner or mode.
 *
 * The directory fsync makes the rename itself durable (survive a power loss), not atomic: a caller
 * writing many files may collect the directories (`syncLater`) and fsync each once when it is done
 * (docs/engine.md, "Durability", says why that is enough).
 */
import { createHash, randomBytes } from "node:crypto";
import { constants, promises as fsp, lstatSync, readdirSync, realpathSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { TendError } from "../../core/errors.js";

export interface AtomicWriteOptions {
  /** Permission bits of the new file (default 0644). */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Write to the file a symlink at `path` points to; refused otherwise. */
  followSymlink?: boolean;
  /** Collect the directory to fsync later instead of fsyncing it now (see syncDirs). */
  syncLater?: Set<string>;
  /** Observers, for tests and audits: called with the temp path at each step. */
  hooks?: {
    afterCreate?(temp: string): void | Promise<void>;
    beforeRename?(temp: string): void | Promise<void>;
  };
}

/**
 * Refuses a path whose parent directories go through a symbolic link that someone other than root
 * could have planted or could replace: writing, chowning or removing through it would act on
 * whatever the link points to (a user turning ~/.config into a link to /etc). Root's own links in
 * root's directories (/lib → usr/lib, /var/run → /run) are followed as usual. One realpath per
 * call in the common case of no symlink at all.
 */
export function checkParents(path: string, followSymlink: boolean): void {
  if (followSymlink) return;
  const dir = dirname(path);
  let real: string;
  try {
    real = realpathSync.native(dir);
  } catch {
    return; // a missing parent: the write fails on its own, and plans say it would be created
  }
  if (real === dir) return;
  for (let end = dir.indexOf("/", 1); ; end = dir.indexOf("/", end + 1)) {
    const prefix = end < 0 ? dir : dir.slice(0, end);
    const st = lstatSync(prefix, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isSymbolicLink()) {
      const holder = lstatSync(dirname(prefix));
      const safeDir = holder.uid === 0 && ((holder.mode & 0o022) === 0 || (holder.mode & 0o1000) !== 0);
      if (st.uid !== 0 || !safeDir) {
        throw new TendError(
          "TEND_E_FILE_SYMLINK",
          `${path}: its parent ${prefix} is a symbolic link that a user other than root controls (to ${realpathSync.native(prefix)}); tend does not write through it. Remove the link, or set follow_symlink: true on the resource if it is intended.`,
        );
      }
    }
    if (end < 0) return;
  }
}

/** The path a write to `path` lands on: `path` itself, or the symlink's final target when allowed. */
export function resolveWriteTarget(path: string, followSymlink: boolean): string {
  checkParents(path, followSymlink);
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st?.isSymbolicLink()) return path;
  if (!followSymlink) {
    throw new TendError(
      "TEND_E_FILE_SYMLINK",
      `${path} is a symlink; tend does not write through a symlink it did not make. Remove it, or set follow_symlink: true on the resource.`,
    );
  }
  try {
    return realpathSync(path);
  } catch {
    throw new TendError(
      "TEND_E_FILE_SYMLINK",
      `${path} is a dangling symlink; follow_symlink cannot write through it.`,
    );
  }
}

export function tempName(target: string): string {
  return join(dirname(target), `.${basename(target)}.tend-${randomBytes(6).toString("hex")}.tmp`);
}

/** fsync a directory so that a rename in it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const h = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * Bytes to write taken from a file, copied in chunks (a large file is never held in memory), and
 * used only if what was copied hashes to `sha256`: a source changed or torn on disk since it was
 * fetched leaves the target as it was.
 */
export interface CopyFrom {
  file: string;
  sha256: string;
}

const COPY_CHUNK = 1024 * 1024;

/** Copies `src` into the open handle `h` in chunks; throws unless the bytes hash to `src.sha256`. */
async function copyChecked(h: fsp.FileHandle, src: CopyFrom): Promise<void> {
  const from = await fsp.open(src.file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const hash = createHash("sha256");
    const buf = Buffer.allocUnsafe(COPY_CHUNK);
    for (;;) {
      const { bytesRead } = await from.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      await h.write(chunk);
    }
    const got = hash.digest("hex");
    if (got !== src.sha256)
      throw new TendError(
        "TEND_E_CATALOG",
        `the content copied from ${src.file} hashes to ${got.slice(0, 12)}…, not the catalog's ${src.sha256.slice(0, 12)}… (changed on disk since it was fetched?); nothing was written`,
      );
  } finally {
    await from.close();
  }
}

/**
 * Replace `path` with `data` (bytes, or a file copied in chunks and hash-checked) atomically.
 * Returns the path actually written (differs when following a symlink).
 */
export async function atomicWrite(
  path: string,
  data: Uint8Array | CopyFrom,
  opts: AtomicWriteOptions = {},
): Promise<string> {
  const target = resolveWriteTarget(path, opts.followSymlink ?? false);
  const temp = tempName(target);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const h = await fsp.open(temp, flags, 0o600);
  let renamed = false;
  try {
    await opts.hooks?.afterCreate?.(temp);
    if (data instanceof Uint8Array) await h.writeFile(data);
    else await copyChecked(h, data);
    await h.sync();
    if (opts.uid !== undefined || opts.gid !== undefined) await h.chown(opts.uid ?? -1, opts.gid ?? -1);
    await h.chmod(opts.mode ?? 0o644);
    await h.close();
    await opts.hooks?.beforeRename?.(temp);
    await fsp.rename(temp, target);
    renamed = true;
    if (opts.syncLater) opts.syncLater.add(dirname(target));
    else await fsyncDir(dirname(target));
    return target;
  } finally {
    if (!renamed) {
      await h.close().catch(() => {});
      await fsp.unlink(temp).catch(() => {});
    }
  }
}

/** Replace whatever is at `path` with a symlink to `linkTarget`, atomically (symlink at a temp name, rename). */
export async function atomicSymlink(
  path: string,
  linkTarget: string,
  syncLater?: Set<string>,
): Promise<void> {
  const temp = tempName(path);
  await fsp.symlink(linkTarget, temp);
  try {
    await fsp.rename(temp, path);
  } catch (err) {
    await fsp.unlink(temp).catch(() => {});
    throw err;
  }
  if (syncLater) syncLater.add(dirname(path));
  else await fsyncDir(dirname(path));
}

/** fsync each directory collected with `syncLater`, once, and forget them. */
export async function syncDirs(dirs: Set<string>): Promise<void> {
  for (const d of dirs) {
    try {
      await fsyncDir(d);
    } catch (err) {
      // Removed later in the run (an emptied directory made absent): nothing left to sync there.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    dirs.delete(d);
  }
}

const TEMP = /^\..+\.tend-[0-9a-f]{12}\.tmp$/;

/**
 * Remove temp files a killed run left in `dir` (only tend's own names). Call only while holding the
 * run lock: another run's temp file in flight would look the same.
 */
export function sweepStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    if (!TEMP.test(n)) continue;
    try {
      unlinkSync(join(dir, n));
      removed.push(join(dir, n));
    } catch {
      // Gone already, or not ours to remove.
    }
  }
  return removed;
}
