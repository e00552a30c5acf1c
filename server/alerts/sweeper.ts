/**
 * The periodic part of alerting, run by every server but by one at a time (a lock), and safe to
 * run twice since each step settles state rather than replaying events: clearing conditions whose
 * flap window passed are resolved; nodes silent past `stale_after` become stale; a report stored
 * but not settled (the server stopped in between) is settled; revoked nodes' conditions close; the
 * refused-commit condition follows the newest judged commit (the gate raises it at once; this
 * catches a gate that stopped between its verdict and the alert); old deliveries are pruned.
 */
import type { Storage } from "../storage/types.js";
import { recipesSubject, refusedCommitInput } from "./detect.js";

export interface SweepSettings {
  staleAfterMs: number | null;
  defaultIntervalMs: number;
  keepMs: number;
}

export interface SweepResult {
  expired: number;
  stale: number;
  settled: number;
  retired: number;
}

/** Nodes settled or marked stale per sweep (the rest wait for the next one). */
const perSweep = 500;

export async function sweep(
  storage: Storage,
  s: SweepSettings,
  now: number,
): Promise<SweepResult | undefined> {
  const a = storage.alerts;
  return a.exclusive(async () => {
    const expired = await a.expireHeld(now);
    const settled = await a.settleReports(now, perSweep);
    const stale = await a.markStale(now, s, perSweep);
    const retired = await a.retireRevoked(now);
    const [newest] = await storage.listCommits(1);
    if (newest && !newest.valid) {
      await a.raise(
        "refused-commit",
        recipesSubject,
        refusedCommitInput(newest.sha, newest.summary, newest.problems),
        now,
      );
    } else if (newest?.valid) {
      await a.clear("refused-commit", recipesSubject, now);
    }
    return { expired, stale, settled, retired };
  });
}

/** Deletes deliveries done before `keepMs` ago (the report retention). */
export function prune(storage: Storage, keepMs: number, now: number): Promise<number> {
  return storage.alerts.prune(now - keepMs);
}
