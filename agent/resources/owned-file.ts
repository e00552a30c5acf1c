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
  readFileSync,
  type Stats,
} from "node:fs";
import { dirname } from "node:path";
import { TendError } from "../../core/errors.js";
import type { Change } from "../../core/types.js";
import { BackupStore } from "../store/file-backups.js";
import { atomicWrite, checkParents } from "../sys/atomic-write.js";
import { contentDiff, modeString, readFlags, sha256 } from "./file-content.js";
import type { CheckResult, KindContext } from "./kind.js";

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
    return { data: readFileSync(fd), st };
  } finally {
    closeSync(fd);
  }
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
