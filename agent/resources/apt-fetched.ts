/**
 * What the apt_repository kind knows about its last good `apt-get update`, kept in the state dir
 * (STATE_DIR/apt-repositories.json, every repository's record in one file that a run reads once; a
 * record of an older agent, STATE_DIR/apt-repository/NAME.json, is still read, and moved there at
 * the repository's next update): the sources file and key it was made with (sha256), the
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

/** Every repository's record, by name. */
export const recordsPath = (stateDir: string) => join(stateDir, "apt-repositories.json");
/** One repository's record, as agents before apt-repositories.json kept it. */
export const recordPath = (stateDir: string, name: string) =>
  join(stateDir, "apt-repository", `${name}.json`);

/** The records, by repository name. */
export type Records = Map<string, Fetched>;

function signature(st: Stats): string {
  return [st.ino, st.size, st.mtimeMs, st.ctimeMs, st.mode, st.uid, st.gid].join(":");
}

const valid = (f: Fetched | null | undefined): f is Fetched =>
  !!f && typeof f === "object" && Array.isArray(f.index) && !!f.files;

/** Every record in apt-repositories.json; none when it is missing or unreadable (each is then fetched again). */
export function readRecords(stateDir: string): Records {
  const records: Records = new Map();
  try {
    const all = JSON.parse(readFileSync(recordsPath(stateDir), "utf8")) as {
      repositories?: Record<string, Fetched>;
    };
    for (const [name, f] of Object.entries(all.repositories ?? {})) if (valid(f)) records.set(name, f);
  } catch {
    // none yet, or not ours to trust
  }
  return records;
}

/** The record of `name`: from `records` (read once for a run) or apt-repositories.json, else an older agent's file. */
export function readFetched(stateDir: string, name: string, records?: Records): Fetched | null {
  const f = (records ?? readRecords(stateDir)).get(name);
  if (f) return f;
  try {
    const old = JSON.parse(readFileSync(recordPath(stateDir, name), "utf8")) as Fetched;
    return valid(old) ? old : null;
  } catch {
    return null;
  }
}

/**
 * List files found in a run, by path: repositories whose lists are the same files (one archive in
 * several sources files, or an update of all of them) look each up once. `at`: see Prefetched in
 * apt-repository.ts; a list found missing is not remembered, so it is looked up again.
 */
export interface Lists {
  at: number;
  found: Map<string, true>;
}

/** Every list file apt fetched is still there. */
export function listsThere(f: Fetched, lists: Lists): boolean {
  if (f.index.length === 0) return false;
  for (const p of f.index) {
    if (lists.found.has(p)) continue;
    if (!lstatSync(p, { throwIfNoEntry: false })?.isFile()) return false;
    lists.found.set(p, true);
  }
  return true;
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
  const records = readRecords(stateDir);
  records.set(name, { ...f, files });
  await writeRecords(stateDir, records);
  await fsp.rm(recordPath(stateDir, name), { force: true });
}

export async function forgetFetched(stateDir: string, name: string): Promise<void> {
  const records = readRecords(stateDir);
  if (records.delete(name)) await writeRecords(stateDir, records);
  await fsp.rm(recordPath(stateDir, name), { force: true });
}

async function writeRecords(stateDir: string, records: Records): Promise<void> {
  const path = recordsPath(stateDir);
  await fsp.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const text = `${JSON.stringify({ repositories: Object.fromEntries(records) })}\n`;
  await atomicWrite(path, Buffer.from(text), { mode: 0o600 });
}
