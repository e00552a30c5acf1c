/**
 * The parts of the report spool the daemon needs between runs, without the spool's sending code
 * (which loads the HTTP client): which files are queued reports, and the retry backoff.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";

/** A queued report's file name: time, sequence, pid, report id. */
export const SPOOL_ENTRY = /^\d{15}-\d+-\d+-.+\.json$/;

/** The spool directory under `state_dir`. */
export function spoolDir(stateDir: string): string {
  return join(stateDir, "spool");
}

/** How many reports wait in the spool (0 when it does not exist or cannot be read). */
export async function spooled(stateDir: string): Promise<number> {
  try {
    return (await readdir(spoolDir(stateDir))).filter((n) => SPOOL_ENTRY.test(n)).length;
  } catch {
    return 0;
  }
}

/** A delay before flush attempt `n` (1-based): exponential from `baseMs`, capped, with full jitter. */
export function backoffMs(n: number, baseMs = 30_000, capMs = 15 * 60_000, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, n - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
