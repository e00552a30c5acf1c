/**
 * The fleet-wide timeline: runs per time bucket across all nodes, with how many failed, repaired
 * drift, or changed something. A run is counted in the bucket its report **arrived** in
 * (`received_at`, indexed), so a finished hour never changes: each hour that ended more than five
 * minutes ago is counted once from `reports` and kept in `fleet_hours` (which also outlives report
 * pruning); the newest hour, and the 5-minute buckets of a 1-hour window, are counted live. So a
 * 30-day window at 10,000 nodes (about 14 million runs) reads 720 small rows once warm.
 */
import type { Driver, Query } from "../driver.js";
import { num } from "../rows.js";

export const timelineSchema = [
  `CREATE TABLE IF NOT EXISTS fleet_hours (hour BIGINT PRIMARY KEY, runs INTEGER NOT NULL,
    failed INTEGER NOT NULL, drifted INTEGER NOT NULL, changed INTEGER NOT NULL)`,
];

export interface TimelineBucket {
  /** The bucket's start, ms since the epoch. */
  start: number;
  runs: number;
  /** Runs whose report failed. */
  failed: number;
  /** Runs that did not fail and repaired drift. */
  drifted: number;
  /** Other runs that changed something (or would have, in a plan). */
  changed: number;
}

const hourMs = 3_600_000;
/** An hour is settled (kept) once it ended this long ago: a report committed late still counts. */
const settleMs = 300_000;

const drift = "EXISTS (SELECT 1 FROM report_resources rr WHERE rr.report_id = r.id AND rr.drifted = 1)";

/**
 * Runs per bucket of `size` ms in [from, to), only the buckets that had runs. (SQLite binds JS
 * numbers as REAL, so the bucket number is cast; PostgreSQL's bigint division is integral anyway.)
 */
async function count(q: Query, from: number, to: number, size: number): Promise<Map<number, TimelineBucket>> {
  const rows = await q(
    `SELECT CAST((r.received_at - $1) / $3 AS BIGINT) AS b, COUNT(*) AS runs,
     SUM(CASE WHEN r.status = 'failed' THEN 1 ELSE 0 END) AS failed,
     SUM(CASE WHEN r.status <> 'failed' AND ${drift} THEN 1 ELSE 0 END) AS drifted,
     SUM(CASE WHEN r.status = 'changed' AND NOT ${drift} THEN 1 ELSE 0 END) AS changed
     FROM reports r WHERE r.received_at >= $1 AND r.received_at < $2 GROUP BY CAST((r.received_at - $1) / $3 AS BIGINT)`,
    [from, to, size],
  );
  const out = new Map<number, TimelineBucket>();
  for (const r of rows) {
    const start = from + Math.floor(num(r.b)) * size;
    out.set(start, {
      start,
      runs: num(r.runs),
      failed: num(r.failed),
      drifted: num(r.drifted),
      changed: num(r.changed),
    });
  }
  return out;
}

const empty = (start: number): TimelineBucket => ({ start, runs: 0, failed: 0, drifted: 0, changed: 0 });

/**
 * Buckets of `size` ms (an hour, or a divisor of one) covering [now - windowMs, now], oldest first;
 * the first starts on a bucket boundary.
 */
export async function fleetTimeline(
  db: Driver,
  windowMs: number,
  size: number,
  now: number,
): Promise<TimelineBucket[]> {
  const from = Math.floor((now - windowMs) / size) * size;
  const to = Math.floor(now / size) * size + size;
  const all = new Map<number, TimelineBucket>();
  let liveFrom = from;
  if (size === hourMs) {
    const settled = Math.max(from, Math.floor((now - settleMs) / hourMs) * hourMs);
    if (settled > from) {
      const kept = await db.query(
        "SELECT hour, runs, failed, drifted, changed FROM fleet_hours WHERE hour >= $1 AND hour < $2",
        [from, settled],
      );
      for (const r of kept) {
        const start = num(r.hour);
        all.set(start, {
          start,
          runs: num(r.runs),
          failed: num(r.failed),
          drifted: num(r.drifted),
          changed: num(r.changed),
        });
      }
      const missing: number[] = [];
      for (let h = from; h < settled; h += hourMs) if (!all.has(h)) missing.push(h);
      if (missing.length > 0) {
        const lo = missing[0] as number;
        const hi = (missing[missing.length - 1] as number) + hourMs;
        const counted = await count(db.query, lo, hi, hourMs);
        const rows = missing.map((h) => counted.get(h) ?? empty(h));
        await keep(db.query, rows);
        for (const b of rows) all.set(b.start, b);
      }
    }
    liveFrom = settled;
  }
  for (const [k, b] of await count(db.query, liveFrom, to, size)) all.set(k, b);
  const out: TimelineBucket[] = [];
  for (let s = from; s < to; s += size) out.push(all.get(s) ?? empty(s));
  return out;
}

async function keep(q: Query, rows: TimelineBucket[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 100) {
    const params: unknown[] = [];
    const values = rows.slice(i, i + 100).map((b) => {
      params.push(b.start, b.runs, b.failed, b.drifted, b.changed);
      const n = params.length;
      return `($${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
    });
    await q(
      `INSERT INTO fleet_hours (hour, runs, failed, drifted, changed) VALUES ${values.join(", ")}
       ON CONFLICT (hour) DO NOTHING`,
      params,
    );
  }
}
