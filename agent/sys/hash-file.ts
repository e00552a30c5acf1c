/** Hashing a file in chunks: a large file costs a 1 MiB buffer, never its size in memory. */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";

/** sha256 (hex) of the file at `path`, read in 1 MiB chunks. */
export function hashFileSync(path: string): string {
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(1024 * 1024);
  const fd = openSync(path, "r");
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}
