/**
 * `AlertStorage` over a `Driver`: conditions and their events (sql/alert-conditions.ts), the outbox
 * as the worker and the dashboard use it (sql/alert-outbox.ts). Each change of a condition is one
 * transaction with its outbox rows; the sweeps below take one transaction per node or condition,
 * a few at a time, so a sweep of a large fleet does not hold the database.
 */
import type { Report } from "../../core/types.js";
import { retire } from "../alerts/conditions.js";
import { staleInput } from "../alerts/detect.js";
import type { RaiseInput, StoredEvent } from "../alerts/kinds.js";
import type {
  AlertPolicy,
  AlertStorage,
  ConditionRecord,
  DeliveryOutcome,
  OutboxRow,
  SinkState,
  StaleSettings,
  StormChange,
  StormRow,
} from "./alert-types.js";
import type { Driver, Query } from "./driver.js";
import { conditionRow, num, numOrNull, strOrNull } from "./rows.js";
import { SettleGroups } from "./settle-groups.js";
import * as cond from "./sql/alert-conditions.js";
import * as outbox from "./sql/alert-outbox.js";

/** Runs `fn` over `items`, `width` at a time; the sum of what it returns. */
async function eachLimited<T>(items: T[], width: number, fn: (item: T) => Promise<number>): Promise<number> {
  let total = 0;
  let next = 0;
  const lanes = Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) total += await fn(items[next++] as T);
  });
  await Promise.all(lanes);
  return total;
}

/**
 * When the server last heard from a node: its latest report's arrival; for a node that reported
 * before the server kept that (an upgraded database), its last catalog request; else its enrolment.
 */
const heardSql =
  "COALESCE(last_received, CASE WHEN last_report_id IS NOT NULL THEN last_seen END, enrolled_at)";

/** 3 × the node's interval (or the default), at least 15 minutes; or the configured stale_after. */
export function staleAfterMs(s: StaleSettings, intervalS: number | null): number {
  if (s.staleAfterMs !== null) return s.staleAfterMs;
  return Math.max(3 * (intervalS !== null ? intervalS * 1000 : s.defaultIntervalMs), 900_000);
}

export class SqlAlertStorage implements AlertStorage {
  private policy: AlertPolicy = { sinks: [], flapWindowMs: 600_000 };
  private readonly ensured = new Set<string>();
  onEnqueue: (() => void) | null = null;

  constructor(private readonly db: Driver) {}

  private get pg(): boolean {
    return this.db.kind === "postgres";
  }

  configure(policy: AlertPolicy): void {
    this.policy = policy;
  }

  private written(n: number): boolean {
    if (n > 0) this.onEnqueue?.();
    return n > 0;
  }

  /** Inside the report's own transaction (SQLite): settles its node; outbox rows written. */
  settleIn(q: Query, report: Report, now: number): Promise<number> {
    return cond.settleNode(q, this.pg, this.policy, report.node, report, now);
  }

  /** After the report's statement committed (PostgreSQL groups): settles its node, in groups. */
  settle(report: Report, now: number): Promise<void> {
    return this.settleGroups.settle(report, now);
  }

  private readonly settleGroups = new SettleGroups(async (items) => {
    const n = await this.db.tx(async (q) => {
      let written = 0;
      for (const { report, now } of items)
        written += await cond.settleNode(q, this.pg, this.policy, report.node, report, now);
      return written;
    });
    this.written(n);
  });

  /** Tells the worker about rows written inside a transaction this class did not run. */
  notify(written: number): void {
    this.written(written);
  }

  async raise(kind: string, subject: string, input: RaiseInput, now: number): Promise<boolean> {
    return this.written(
      await this.db.tx((q) => cond.change(q, this.pg, this.policy, kind, subject, input, now)),
    );
  }

  async clear(kind: string, subject: string, now: number): Promise<boolean> {
    return this.written(
      await this.db.tx((q) => cond.change(q, this.pg, this.policy, kind, subject, null, now)),
    );
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T | undefined> {
    return this.db.tryLock("alert-sweep", fn);
  }

  async expireHeld(now: number): Promise<number> {
    const rows = await this.db.query(
      "SELECT kind, subject FROM alert_conditions WHERE state = 'clearing' AND clear_at <= $1",
      [now],
    );
    const n = await eachLimited(rows, 8, (r) =>
      this.db.tx((q) => cond.expireOne(q, this.pg, this.policy, String(r.kind), String(r.subject), now)),
    );
    this.written(n);
    return rows.length;
  }

  async markStale(now: number, s: StaleSettings, limit: number): Promise<number> {
    const base = `SELECT name FROM nodes WHERE credential_hash NOT LIKE 'revoked:%'
      AND (alerts IS NULL OR alerts NOT LIKE '%stale%')`;
    const rows =
      s.staleAfterMs !== null
        ? await this.db.query(`${base} AND ${heardSql} < $1 LIMIT $2`, [now - s.staleAfterMs, limit])
        : await this.db.query(
            `${base} AND ${heardSql} + (CASE
              WHEN CAST(COALESCE(report_interval_s, $2) AS BIGINT) * 3000 > 900000
              THEN CAST(COALESCE(report_interval_s, $2) AS BIGINT) * 3000 ELSE 900000 END) < $1 LIMIT $3`,
            [now, Math.round(s.defaultIntervalMs / 1000), limit],
          );
    const isStale = (n: Record<string, unknown>): RaiseInput | null => {
      const intervalS = numOrNull(n.report_interval_s);
      const after = staleAfterMs(s, intervalS);
      const lastReportId = strOrNull(n.last_report_id);
      const lastReceived = numOrNull(n.last_received) ?? (lastReportId ? numOrNull(n.last_seen) : null);
      const enrolledAt = num(n.enrolled_at);
      if ((lastReceived ?? enrolledAt) >= now - after) return null;
      return staleInput({
        node: String(n.name),
        now,
        staleAfterMs: after,
        enrolledAt,
        lastReceived,
        lastReportId,
        lastReportAt: strOrNull(n.last_report_at),
        intervalS,
      });
    };
    const n = await eachLimited(rows, 8, (r) =>
      this.db.tx((q) => cond.raiseStale(q, this.pg, this.policy, String(r.name), isStale, now)),
    );
    this.written(n);
    return rows.length;
  }

  async settleReports(now: number, limit: number): Promise<number> {
    const rows = await this.db.query(
      `SELECT name FROM nodes WHERE last_report_id IS NOT NULL
       AND (alert_report IS NULL OR alert_report <> last_report_id) LIMIT $1`,
      [limit],
    );
    const n = await eachLimited(rows, 8, (r) =>
      this.db.tx((q) => cond.settleNode(q, this.pg, this.policy, String(r.name), null, now)),
    );
    this.written(n);
    return rows.length;
  }

  async retireRevoked(now: number): Promise<number> {
    const rows = await this.db.query(
      `SELECT c.kind, c.subject, c.node FROM alert_conditions c JOIN nodes n ON n.name = c.node
       WHERE c.state <> 'closed' AND n.credential_hash LIKE 'revoked:%'`,
    );
    const n = await eachLimited(rows, 8, (r) =>
      this.db.tx(async (q) => {
        const prev = await cond.lockCondition(q, this.pg, String(r.kind), String(r.subject));
        await q("UPDATE nodes SET alerts = NULL WHERE name = $1", [r.node]);
        return prev ? cond.applyTransition(q, this.policy, retire(prev, now), now) : 0;
      }),
    );
    this.written(n);
    return rows.length;
  }

  prune(before: number): Promise<number> {
    return outbox.prune(this.db, before);
  }

  async claimSink(name: string, owner: string, now: number, until: number): Promise<boolean> {
    if (!this.ensured.has(name)) {
      await outbox.ensureSink(this.db, name);
      this.ensured.add(name);
    }
    return outbox.claimSink(this.db, name, owner, now, until);
  }

  releaseSink(name: string, owner: string): Promise<void> {
    return outbox.releaseSink(this.db, name, owner);
  }

  async releaseAllSinks(): Promise<void> {
    await this.db.query("UPDATE alert_sinks SET owner = NULL, owner_until = 0");
  }

  sinkStates(): Promise<SinkState[]> {
    return outbox.sinkStates(this.db);
  }

  pending(sink: string, limit: number): Promise<OutboxRow[]> {
    return outbox.pending(this.db, sink, limit);
  }

  sentSince(sink: string, since: number): Promise<number> {
    return outbox.sentSince(this.db, sink, since);
  }

  triggersSince(sink: string, kinds: string[], since: number) {
    return outbox.triggersSince(this.db, sink, kinds, since);
  }

  openStorms(sink: string): Promise<StormRow[]> {
    return outbox.openStorms(this.db, sink);
  }

  stormMembers(stormIds: string[]) {
    return outbox.stormMembers(this.db, stormIds);
  }

  async applyStorm(sink: string, change: StormChange, now: number): Promise<void> {
    this.written(await outbox.applyStorm(this.db, sink, change, now));
  }

  record(outcomes: DeliveryOutcome[], now: number): Promise<void> {
    return outbox.record(this.db, outcomes, now);
  }

  sinkFailed(name: string, pausedUntil: number, error: string, now: number): Promise<void> {
    return outbox.sinkFailed(this.db, name, pausedUntil, error, now);
  }

  sinkOk(name: string, now: number): Promise<void> {
    return outbox.sinkOk(this.db, name, now);
  }

  recordTest(sink: string, event: StoredEvent, outcome: DeliveryOutcome, now: number): Promise<void> {
    return outbox.recordTest(this.db, sink, event, outcome, now);
  }

  async openConditions(limit: number): Promise<ConditionRecord[]> {
    const rows = await this.db.query(
      `SELECT kind, subject, node, state, seq, opened_at, changed_at, clear_at, flaps, summary, details
       FROM alert_conditions WHERE state <> 'closed' ORDER BY opened_at, kind, subject LIMIT $1`,
      [limit],
    );
    return rows.map(conditionRow);
  }

  async conditionCounts(): Promise<Record<string, number>> {
    const rows = await this.db.query(
      "SELECT kind, COUNT(*) AS n FROM alert_conditions WHERE state <> 'closed' GROUP BY kind",
    );
    return Object.fromEntries(rows.map((r) => [String(r.kind), num(r.n)]));
  }

  recentDeliveries(limit: number): Promise<OutboxRow[]> {
    return outbox.recentDeliveries(this.db, limit);
  }

  outboxDepth(): Promise<Record<string, number>> {
    return outbox.outboxDepth(this.db);
  }
}
