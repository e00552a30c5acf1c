/**
 * The fleet-wide timeline: runs per time bucket across all nodes, with how many failed, repaired
 * drift, or changed something. A run is counted in the bucket its report **arrived** in
 * (`received_at`, indexed), so a finished hour never changes: each hour that ended more than five
 * minutes ago is counted once from `reports` and kept in `fleet_hours` (which also outlives report
 * pruning); likewise each 5-minute bucket in `fleet_minutes`, which make up the newest hour and
 * the 1-hour window, so only the last few minutes are counted live. So a 30-day window at 10,000
 * nodes (about 14 million runs) reads some 730 small rows and a few minutes of reports once warm.
 */
import type { Driver, Query } from "../driver.js";
import { num } from "../rows.js";

export const timelineSchema = [
  `CREATE TABLE IF NOT EXISTS fleet_hours (hour BIGINT PRIMARY KEY, runs INTEGER NOT NULL,
    failed INTEGER NOT NULL, drifted INTEGER NOT NULL, changed INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS fleet_minutes (start BIGINT PRIMARY KEY, runs INTEGER NOT NULL,
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
const fiveMs = 300_000;
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

/** The kept buckets: an hour's in fleet_hours, 5 minutes' in fleet_minutes (keyed by start). */
const stores = {
  [hourMs]: { table: "fleet_hours", key: "hour" },
  [fiveMs]: { table: "fleet_minutes", key: "start" },
} as Record<number, { table: string; key: string }>;

/** Settled buckets of `size` in [from, until): read where kept, counted (and kept) where not. */
async function settledBuckets(
  db: Driver,
  size: number,
  from: number,
  until: number,
): Promise<TimelineBucket[]> {
  if (until <= from) return [];
  const { table, key } = stores[size] as { table: string; key: string };
  const all = new Map<number, TimelineBucket>();
  const kept = await db.query(
    `SELECT ${key} AS s, runs, failed, drifted, changed FROM ${table} WHERE ${key} >= $1 AND ${key} < $2`,
    [from, until],
  );
  for (const r of kept) {
    const start = num(r.s);
    all.set(start, {
      start,
      runs: num(r.runs),
      failed: num(r.failed),
      drifted: num(r.drifted),
      changed: num(r.changed),
    });
  }
  const missing: number[] = [];
  for (let b = from; b < until; b += size) if (!all.has(b)) missing.push(b);
  if (missing.length > 0) {
    const lo = missing[0] as number;
    const counted = await count(db.query, lo, (missing[missing.length - 1] as number) + size, size);
    const rows = missing.map((b) => counted.get(b) ?? empty(b));
    await keep(db.query, table, key, rows);
    for (const b of rows) all.set(b.start, b);
  }
  return [...all.values()];
}

/**
 * Buckets of `size` ms (an hour or 5 minutes) covering [now - windowMs, now], oldest first; the
 * first starts on a bucket boundary. Settled hours come from fleet_hours; the newest hour is the
 * sum of its settled 5-minute buckets (fleet_minutes) and the last few minutes counted live.
 */
export async function fleetTimeline(
  db: Driver,
  windowMs: number,
  size: number,
  now: number,
): Promise<TimelineBucket[]> {
  const from = Math.floor((now - windowMs) / size) * size;
  const to = Math.floor(now / size) * size + size;
  const settle = (unit: number) => Math.max(from, Math.floor((now - settleMs) / unit) * unit);
  const hours = size === hourMs ? settle(hourMs) : from;
  const minutes = Math.max(hours, settle(fiveMs));
  const parts = [
    ...(size === hourMs ? await settledBuckets(db, hourMs, from, hours) : []),
    ...(await settledBuckets(db, fiveMs, hours, minutes)),
    ...(await count(db.query, minutes, to, fiveMs)).values(),
  ];
  const all = new Map<number, TimelineBucket>();
  for (const p of parts) {
    const start = Math.floor((p.start - from) / size) * size + from;
    const b = all.get(start) ?? empty(start);
    all.set(start, {
      start,
      runs: b.runs + p.runs,
      failed: b.failed + p.failed,
      drifted: b.drifted + p.drifted,
      changed: b.changed + p.changed,
    });
  }
  const out: TimelineBucket[] = [];
  for (let s = from; s < to; s += size) out.push(all.get(s) ?? empty(s));
  return out;
}

async function keep(q: Query, table: string, key: string, rows: TimelineBucket[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 100) {
    const params: unknown[] = [];
    const values = rows.slice(i, i + 100).map((b) => {
      params.push(b.start, b.runs, b.failed, b.drifted, b.changed);
      const n = params.length;
      return `($${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
    });
    await q(
      `INSERT INTO ${table} (${key}, runs, failed, drifted, changed) VALUES ${values.join(", ")}
       ON CONFLICT (${key}) DO NOTHING`,
      params,
    );
  }
  // 5-minute buckets serve only the newest hour and the 1-hour window: a day of them is plenty.
  if (table === "fleet_minutes")
    await q("DELETE FROM fleet_minutes WHERE start < $1", [(rows[0]?.start ?? 0) - 86_400_000]);
}
