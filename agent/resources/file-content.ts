/** Content comparison and diffs for the file kind: read only what a decision needs. */
import { createHash, hash } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

/** Diffs beyond this size say so instead of printing a wall of text. */
export const MAX_DIFF_BYTES = 512 * 1024;

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** One read buffer for the no-op path: a file that fits is read and hashed without allocating. */
const SCRATCH = Buffer.allocUnsafeSlow(64 * 1024);

/**
 * The current content of the file at `path` when its sha256 is not `want`, else null. Compared by
 * hash, so the desired content itself is not needed to find a file in sync: a run from the compile
 * cache, whose catalog carries no content, reads a blob only for a file that must change. A file
 * that fits the scratch buffer is hashed there (no allocation per file on the no-op path); a larger
 * one is hashed in chunks, and its bytes are kept only when small enough to diff (`data` is null
 * beyond MAX_DIFF_BYTES: a large file is never held whole).
 */
export function differingContent(
  path: string,
  want: string,
  follow = false,
): { data: Buffer | null; size: number; sha256: string } | null {
  const fd = openSync(path, readFlags(follow));
  try {
    // What was opened must be the regular file the check saw, not a link or fifo swapped in since.
    if (!fstatSync(fd).isFile())
      throw new Error(`${path} changed under tend's feet (no longer a regular file)`);
    let n = 0;
    for (let got = -1; got !== 0 && n < SCRATCH.length; n += got)
      got = readSync(fd, SCRATCH, n, SCRATCH.length - n, n);
    if (n < SCRATCH.length) {
      const sha = hash("sha256", SCRATCH.subarray(0, n), "hex");
      return sha === want ? null : { data: Buffer.from(SCRATCH.subarray(0, n)), size: n, sha256: sha };
    }
    // Larger than the scratch buffer: hashed in chunks from the start (the reads above were
    // positional, so the descriptor's offset is still 0); the chunks are kept while a diff could use them.
    const h = createHash("sha256");
    const kept: Buffer[] = [];
    let size = 0;
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (let got = readSync(fd, buf); got > 0; got = readSync(fd, buf)) {
      const chunk = buf.subarray(0, got);
      h.update(chunk);
      size += got;
      if (size <= MAX_DIFF_BYTES) kept.push(Buffer.from(chunk));
      else kept.length = 0;
    }
    const sha = h.digest("hex");
    if (sha === want) return null;
    return { data: size <= MAX_DIFF_BYTES ? Buffer.concat(kept) : null, size, sha256: sha };
  } finally {
    closeSync(fd);
  }
}

/**
 * Flags for reading a managed file: without following a symlink swapped in after the check (its
 * target's content would end up in a diff, a report and a backup), and without blocking on a fifo.
 */
export function readFlags(follow: boolean): number {
  return follow ? constants.O_RDONLY : constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
}

function isText(b: Buffer): boolean {
  if (b.includes(0)) return false;
  return Buffer.from(b.toString("utf8"), "utf8").equals(b);
}

/** One side of a diff: its bytes, or only its size when it is too large to have been read. */
export type DiffSide = Buffer | { size: number };

const sizeOf = (side: DiffSide | null): number =>
  side === null ? 0 : Buffer.isBuffer(side) ? side.length : side.size;

/**
 * A unified diff from `before` (null: no file) to `after`, or a sentence when a diff would not help.
 * The diff library is loaded on the first diff: a run where nothing changed never needs it.
 */
export async function contentDiff(path: string, before: DiffSide | null, after: DiffSide): Promise<string> {
  if (!Buffer.isBuffer(after) || (before !== null && !Buffer.isBuffer(before)))
    return `content differs (${sizeOf(before)} → ${sizeOf(after)} bytes; too large to diff)`;
  const old = before ?? Buffer.alloc(0);
  if (!isText(old) || !isText(after)) return "binary content differs";
  if (old.length > MAX_DIFF_BYTES || after.length > MAX_DIFF_BYTES) {
    return `content differs (${old.length} → ${after.length} bytes; too large to diff)`;
  }
  const { createTwoFilesPatch } = await import("diff");
  return createTwoFilesPatch(before ? path : "/dev/null", path, old.toString("utf8"), after.toString("utf8"));
}

/** `0644`-style octal text for permission bits. */
export function modeString(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

export function parseMode(mode: string): number {
  return Number.parseInt(mode, 8) & 0o7777;
}
