/**
 * What the apt_repository kind knows about its last good `apt-get update`, kept in the state dir
 * (STATE_DIR/apt-repository/NAME.json): the sources file and key it was made with (sha256), the
 * pins the key was checked against, the list files apt fetched, and how the sources and key files
 * looked on disk right after (inode, size, times, mode, owner). A no-op check then stats instead of
 * reading: a file whose stat is as recorded holds what was written then (any write or chmod moves
 * its ctime, which nobody can set back), the way git trusts its index. Anything else is decided by
 * reading.
 */
import { promises as fsp, lstatSync, readFileSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import { atomicWrite } from "../sys/atomic-write.js";

export interface Fetched {
  /** sha256 of the sources file's content, and of the key, apt fetched the lists with. */
  sources: string;
  key: string | null;
  /** The pins that key was checked against (normal fingerprints, sorted, space-separated). */
  pins: string;
  /** The list files apt fetched for the sources file. */
  index: string[];
  /** Path → stat signature of the sources and key files right after the update. */
  files: Record<string, string>;
}

export const recordPath = (stateDir: string, name: string) =>
  join(stateDir, "apt-repository", `${name}.json`);

function signature(st: Stats): string {
  return [st.ino, st.size, st.mtimeMs, st.ctimeMs, st.mode, st.uid, st.gid].join(":");
}

export function readFetched(stateDir: string, name: string): Fetched | null {
  try {
    const f = JSON.parse(readFileSync(recordPath(stateDir, name), "utf8")) as Fetched;
    return Array.isArray(f.index) && f.files ? f : null;
  } catch {
    return null;
  }
}

/** Every list file apt fetched is still there. */
export function listsThere(f: Fetched): boolean {
  return f.index.length > 0 && f.index.every((p) => lstatSync(p, { throwIfNoEntry: false })?.isFile());
}

/** Every recorded file is, by its stat, as it was right after the update. */
export function filesUnchanged(f: Fetched, paths: readonly string[]): boolean {
  return paths.every((p) => {
    const st = lstatSync(p, { throwIfNoEntry: false });
    return st !== undefined && f.files[p] === signature(st);
  });
}

export async function writeFetched(
  stateDir: string,
  name: string,
  f: Omit<Fetched, "files">,
  paths: readonly string[],
): Promise<void> {
  const files: Record<string, string> = {};
  for (const p of paths) files[p] = signature(lstatSync(p));
  const path = recordPath(stateDir, name);
  await fsp.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await atomicWrite(path, Buffer.from(`${JSON.stringify({ ...f, files })}\n`), { mode: 0o600 });
}

export async function forgetFetched(stateDir: string, name: string): Promise<void> {
  await fsp.rm(recordPath(stateDir, name), { force: true });
}
