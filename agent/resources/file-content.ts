/** Content comparison and diffs for the file kind: read only what a decision needs. */
import { createHash } from "node:crypto";
import { readFileSync, type Stats } from "node:fs";

/** Diffs beyond this size say so instead of printing a wall of text. */
const MAX_DIFF_BYTES = 512 * 1024;

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * The current content when it differs from `want`, else null. A size mismatch decides without
 * reading; equal sizes are compared byte for byte (cheaper than hashing both).
 */
export function differingContent(path: string, st: Stats, want: Buffer): Buffer | "unread" | null {
  if (st.size !== want.length) return "unread";
  const have = readFileSync(path);
  return have.equals(want) ? null : have;
}

function isText(b: Buffer): boolean {
  if (b.includes(0)) return false;
  return Buffer.from(b.toString("utf8"), "utf8").equals(b);
}

/**
 * A unified diff from `before` (null: no file) to `after`, or a sentence when a diff would not help.
 * The diff library is loaded on the first diff: a run where nothing changed never needs it.
 */
export async function contentDiff(path: string, before: Buffer | null, after: Buffer): Promise<string> {
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
