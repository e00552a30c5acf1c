/**
 * A file a kind writes whole from its params (a cron.d entry, an apt .sources file, a sysctl.d
 * file): root's, with a fixed mode. The kind renders the wanted bytes, so the no-op check is one
 * lstat and one read compared byte for byte (no hash); a change is diffed, written atomically, and
 * the content it replaces or removes is kept in the backup store like the file kind's.
 */
import {
  closeSync,
  promises as fsp,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  type Stats,
} from "node:fs";
import { basename, dirname } from "node:path";
import { TendError } from "../../core/errors.js";
import type { Change, Json } from "../../core/types.js";
import { BackupStore } from "../store/file-backups.js";
import { atomicWrite, checkParents } from "../sys/atomic-write.js";
import { contentDiff, modeString, readFlags, sha256 } from "./file-content.js";
import { type CheckResult, changesStarted, type KindContext } from "./kind.js";

export interface Owned {
  path: string;
  data: Buffer;
  /** Permission bits, e.g. 0o644. */
  mode: number;
}

export interface Live {
  data: Buffer;
  st: Stats;
}

/** The file at `path` as it is, or null; a symlink or anything but a regular file is refused. */
export function readOwned(id: string, path: string): Live | null {
  const lst = lstatSync(path, { throwIfNoEntry: false });
  if (!lst) return null;
  // Before reading: no user-planted link on the way (nothing is read when there is no file).
  checkParents(path, false);
  if (lst.isSymbolicLink())
    throw new TendError(
      "TEND_E_FILE_SYMLINK",
      `${id}: ${path} is a symlink; tend writes this file itself and does not write through a link. Remove it.`,
    );
  const fd = openSync(path, readFlags(false));
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new TendError("TEND_E_FILE_TYPE", `${id}: ${path} is not a regular file. Remove it.`);
    return { data: readAll(fd, st.size), st };
  } finally {
    closeSync(fd);
  }
}

/**
 * A directory of owned files (/etc/sysctl.d, /etc/apt/keyrings) listed once for a run by a kind's
 * prefetch, so that each resource's no-op check reads its file with an open and an fstat, instead
 * of an lstat, a realpath, an open and two fstats, and finds a missing one without a call. Made only
 * when no link leads to the directory (its path is its real path), and trusted only while nothing in
 * the run has changed anything since it was read (changesStarted); otherwise, and for any name the
 * listing holds as something other than a regular file, readOwned decides as before.
 */
export interface OwnedListing {
  dir: string;
  /** changesStarted(run) when the directory was read. */
  at: number;
  /** Regular files, by name. */
  files: Set<string>;
  /** Every other name (a link, a directory, a type the file system does not tell). */
  others: Set<string>;
}

/** The listing of `dir`, or null when a link leads to it or it cannot be read (readOwned decides then). */
export function listOwned(dir: string, run: Record<string, Json>): OwnedListing | null {
  const at = changesStarted(run);
  try {
    if (realpathSync.native(dir) !== dir) return null;
    const listing: OwnedListing = { dir, at, files: new Set(), others: new Set() };
    for (const e of readdirSync(dir, { withFileTypes: true }))
      (e.isFile() ? listing.files : listing.others).add(e.name);
    return listing;
  } catch (err) {
    // No such directory (and no link to one: lstat of a file in it finds nothing either): no files.
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && !lstatSync(dir, { throwIfNoEntry: false }))
      return { dir, at, files: new Set(), others: new Set() };
    return null;
  }
}

/** readOwned, through a listing of the file's directory while the run has changed nothing since. */
export function readListed(
  id: string,
  path: string,
  listing: OwnedListing | null | undefined,
  run: Record<string, Json>,
): Live | null {
  if (!listing || listing.at !== changesStarted(run) || dirname(path) !== listing.dir)
    return readOwned(id, path);
  const name = basename(path);
  if (!listing.files.has(name)) return listing.others.has(name) ? readOwned(id, path) : null;
  let fd: number;
  try {
    // O_NOFOLLOW: a link put in its place since the listing fails here, and readOwned says so.
    fd = openSync(path, readFlags(false));
  } catch {
    return readOwned(id, path);
  }
  let live: Live | null = null;
  try {
    const st = fstatSync(fd);
    if (st.isFile()) live = { data: readAll(fd, st.size), st };
  } finally {
    closeSync(fd);
  }
  return live ?? readOwned(id, path);
}

/** `size` bytes from the start of `fd` (fewer if it shrank), as readFileSync reads a regular file. */
function readAll(fd: number, size: number): Buffer {
  if (size === 0) return readFileSync(fd);
  const buf = Buffer.allocUnsafe(size);
  let n = 0;
  for (let got = -1; got !== 0 && n < size; n += got) got = readSync(fd, buf, n, size - n, n);
  return n < size ? buf.subarray(0, n) : buf;
}

/**
 * What differs between the file as it is (`live`, read by readOwned) and as wanted: `property` names
 * its content, `created` the change when there is no file yet.
 */
export async function ownedChanges(
  w: Owned,
  live: Live | null,
  property: string,
  created = property,
): Promise<CheckResult> {
  if (!live)
    return {
      changes: [{ property: created, from: "absent", to: "present" }],
      diff: await contentDiff(w.path, null, w.data),
    };
  const changes: Change[] = [];
  let diff: string | null = null;
  if (!live.data.equals(w.data)) {
    changes.push({ property, from: `sha256:${sha256(live.data)}`, to: `sha256:${sha256(w.data)}` });
    diff = await contentDiff(w.path, live.data, w.data);
  }
  if ((live.st.mode & 0o7777) !== w.mode)
    changes.push({ property: `${property} mode`, from: modeString(live.st.mode), to: modeString(w.mode) });
  if (live.st.uid !== 0 || live.st.gid !== 0)
    changes.push({ property: `${property} owner`, from: `${live.st.uid}:${live.st.gid}`, to: "root:root" });
  return { changes, diff };
}

/**
 * Writes the file (root's, its mode) unless it is so already, keeping what it replaces; makes its
 * directory when missing.
 */
export async function writeOwned(ctx: KindContext, w: Owned): Promise<void> {
  await fsp.mkdir(dirname(w.path), { recursive: true, mode: 0o755 });
  const live = readOwned(w.path, w.path);
  const same = live?.data.equals(w.data);
  if (same && (live!.st.mode & 0o7777) === w.mode && live!.st.uid === 0 && live!.st.gid === 0) return;
  if (live && !same) await new BackupStore(ctx.stateDir).save(w.path, live.data, live.st);
  await atomicWrite(w.path, w.data, { mode: w.mode, uid: 0, gid: 0 });
}

/** Removes the file when it is there, keeping its content in the backup store. */
export async function removeOwned(ctx: KindContext, id: string, path: string): Promise<void> {
  const live = readOwned(id, path);
  if (!live) return;
  await new BackupStore(ctx.stateDir).save(path, live.data, live.st);
  await fsp.unlink(path);
}
