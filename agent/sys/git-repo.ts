/**
 * What a git checkout says about itself, read from its .git files without running git: the commit
 * HEAD is at, a ref (loose or packed, with its peeled commit), the origin's URL, and the index — so
 * a no-op check of a checkout costs a few small reads and one lstat per tracked file, as `git
 * status` itself would, without a process. Anything this reader does not understand (a split
 * index, an unknown index version) makes it answer "unsure", and the caller asks git.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  readSync,
  type Stats,
} from "node:fs";
import { join, resolve } from "node:path";

const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/**
 * One read buffer for .git's files: HEAD, config, a ref and most indexes fit, and are read with an
 * open, one read and a close, without allocating (readFileSync also fstats, and reads twice).
 */
const SCRATCH = Buffer.allocUnsafeSlow(64 * 1024);

/** The whole file at `path`, or null when it cannot be read. In SCRATCH when it fits: use before the next read. */
function readBytes(path: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch {
    return null;
  }
  try {
    return readAll(fd);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

function readAll(fd: number): Buffer {
  let n = 0;
  for (let got = -1; got !== 0 && n < SCRATCH.length; n += got)
    got = readSync(fd, SCRATCH, n, SCRATCH.length - n, n);
  // Larger than the buffer: read whole (positioned reads left the file offset at 0).
  return n < SCRATCH.length ? SCRATCH.subarray(0, n) : readFileSync(fd);
}

function readText(path: string): string | null {
  return readBytes(path)?.toString("utf8") ?? null;
}

/** The git directory of a checkout at `worktree`: `.git`, or where a `.git` file points; null when none. */
export function gitDirOf(worktree: string): string | null {
  return gitDirStat(worktree)?.dir ?? null;
}

/** gitDirOf, with the lstat of `.git` when it is the git directory itself (else undefined). */
export function gitDirStat(worktree: string): { dir: string; st: Stats | undefined } | null {
  const dotGit = join(worktree, ".git");
  const st = lstatSync(dotGit, { throwIfNoEntry: false });
  if (st?.isDirectory()) return { dir: dotGit, st };
  if (!st?.isFile()) return null;
  const m = /^gitdir: (.+)$/m.exec(readText(dotGit) ?? "");
  return m ? { dir: resolve(worktree, m[1]!.trim()), st: undefined } : null;
}

/** A ref's object, and the commit it peels to when packed-refs says so (an annotated tag). */
export interface RefValue {
  sha: string;
  peeled?: string;
}

/** `ref` (e.g. refs/tags/v1) from its loose file or packed-refs; null when the repository has none. */
export function readRef(gitDir: string, ref: string): RefValue | null {
  const path = join(gitDir, ref);
  // Most refs are packed (a clone packs its tags): a missing loose one costs an lstat, not an error.
  const loose = lstatSync(path, { throwIfNoEntry: false }) ? readText(path)?.trim() : undefined;
  if (loose && SHA.test(loose)) return { sha: loose };
  const packed = readText(join(gitDir, "packed-refs"));
  if (!packed) return null;
  const lines = packed.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const space = line.indexOf(" ");
    if (space < 0 || line.slice(space + 1) !== ref) continue;
    const sha = line.slice(0, space);
    if (!SHA.test(sha)) continue;
    const next = lines[i + 1];
    return next?.startsWith("^") ? { sha, peeled: next.slice(1).trim() } : { sha };
  }
  return null;
}

/** The commit HEAD is at (detached, or through the branch it names); null when unborn or unreadable. */
export function readHead(gitDir: string): string | null {
  const head = readText(join(gitDir, "HEAD"))?.trim();
  if (!head) return null;
  if (SHA.test(head)) return head;
  const m = /^ref: (refs\/\S+)$/.exec(head);
  return m ? (readRef(gitDir, m[1]!)?.sha ?? null) : null;
}

/** `remote.origin.url` from the repository's own config; null when it has none there. */
export function originUrl(gitDir: string): string | null {
  const text = readText(join(gitDir, "config"));
  if (!text) return null;
  let inOrigin = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) inOrigin = /^\[remote\s+"origin"\]$/.test(line);
    else if (inOrigin) {
      const m = /^url\s*=\s*(.*)$/.exec(line);
      if (m) return m[1]!.replace(/^"(.*)"$/, "$1");
    }
  }
  return null;
}

/**
 * A time as Node's (non-bigint) Stats gives it: `mtimeMs` is computed as sec * 1e3 + nsec / 1e6
 * from the kernel's seconds and nanoseconds (lib/internal/fs/utils.js, msFromTimeSpec), so the same
 * computation on the index's seconds and nanoseconds gives the very same double for the same time.
 * Two times map to one double only when they are within ~0.12 µs of each other (the double's
 * precision at today's dates); the order of times is kept. Comparing these instead of bigint
 * nanoseconds spares a bigint lstat per tracked file (about three times slower).
 */
export const msOf = (sec: number, nsec: number): number => sec * 1e3 + nsec / 1e6;

/** One tracked path as the index recorded it when git last wrote or refreshed it. */
export interface IndexEntry {
  path: string;
  mode: number;
  /** The file's mtime the index recorded, as msOf computes it. */
  mtimeMs: number;
  size: number;
  skipWorktree: boolean;
}

/** The index's entries, and the index file's mtime and owner; null when this reader cannot be sure of them. */
export function readIndex(
  gitDir: string,
): { entries: IndexEntry[]; mtimeMs: number; uid: number; gid: number } | null {
  let fd: number;
  try {
    fd = openSync(join(gitDir, "index"), "r");
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    // parseIndex keeps nothing of the buffer (its paths are strings).
    const entries = parseIndex(readAll(fd));
    return entries ? { entries, mtimeMs: st.mtimeMs, uid: st.uid, gid: st.gid } : null;
  } finally {
    closeSync(fd);
  }
}

/** Index versions 2 to 4 (docs: gitformat-index). Null for a split index or anything unexpected. */
export function parseIndex(buf: Buffer): IndexEntry[] | null {
  if (buf.length < 12 || buf.toString("latin1", 0, 4) !== "DIRC") return null;
  const version = buf.readUInt32BE(4);
  if (version < 2 || version > 4) return null;
  const count = buf.readUInt32BE(8);
  // The hash length depends on the repository's object format; sha1 (20) is by far the common case.
  const hashLen = 20;
  const entries: IndexEntry[] = [];
  let at = 12;
  let previous = "";
  for (let i = 0; i < count; i++) {
    const start = at;
    if (at + 62 > buf.length) return null;
    const mtimeMs = msOf(buf.readUInt32BE(at + 8), buf.readUInt32BE(at + 12));
    const mode = buf.readUInt32BE(at + 24);
    const size = buf.readUInt32BE(at + 36);
    const flags = buf.readUInt16BE(at + 40 + hashLen);
    at += 42 + hashLen;
    let skipWorktree = false;
    if (flags & 0x4000) {
      if (version < 3) return null;
      skipWorktree = (buf.readUInt16BE(at) & 0x4000) !== 0;
      at += 2;
    }
    let path: string;
    if (version === 4) {
      let strip = 0;
      let byte: number;
      do {
        byte = buf[at++]!;
        strip = (strip << 7) | (byte & 0x7f);
        if (byte & 0x80) strip++;
      } while (byte & 0x80);
      const end = buf.indexOf(0, at);
      if (end < 0 || strip > previous.length) return null;
      path = previous.slice(0, previous.length - strip) + buf.toString("utf8", at, end);
      at = end + 1;
    } else {
      const end = buf.indexOf(0, at);
      if (end < 0) return null;
      path = buf.toString("utf8", at, end);
      // Entries are padded with NULs to a multiple of 8 bytes, at least one NUL.
      at = start + Math.ceil((end + 1 - start) / 8) * 8;
    }
    previous = path;
    // Stage > 0: a merge in progress. Such a checkout is not clean, and git must say how.
    if ((flags & 0x3000) !== 0) return null;
    entries.push({ path, mode, mtimeMs, size, skipWorktree });
  }
  // A split index ("link" extension) keeps entries in another file: let git read it.
  if (buf.toString("latin1", at, at + 4) === "link") return null;
  return entries;
}

const S_IFMT = 0o170000;
const GITLINK = 0o160000;

/**
 * The tracked paths whose file no longer matches what the index recorded (missing, another type,
 * another size or mtime, the executable bit flipped), plus those git itself would re-read because
 * they changed in the same instant as the index was written ("racily clean"). Git decides the
 * same way, with ctime ignored: a chown changes ctime, not content. Also the uids and gids found.
 */
export function statDiffers(
  worktree: string,
  index: { entries: IndexEntry[]; mtimeMs: number },
): { suspects: string[]; uids: Set<number>; gids: Set<number> } {
  const suspects: string[] = [];
  const uids = new Set<number>();
  const gids = new Set<number>();
  const prefix = `${worktree}/`;
  for (const e of index.entries) {
    if (e.skipWorktree || (e.mode & S_IFMT) === GITLINK) continue;
    const st = lstatSync(prefix + e.path, { throwIfNoEntry: false });
    if (!st) {
      suspects.push(e.path);
      continue;
    }
    uids.add(st.uid);
    gids.add(st.gid);
    const type = st.mode & S_IFMT;
    const executable = (st.mode & 0o100) !== 0;
    if (
      type !== (e.mode & S_IFMT) ||
      (type === 0o100000 && executable !== ((e.mode & 0o100) !== 0)) ||
      st.size % 4294967296 !== e.size ||
      st.mtimeMs !== e.mtimeMs ||
      e.mtimeMs >= index.mtimeMs
    )
      suspects.push(e.path);
  }
  return { suspects, uids, gids };
}
