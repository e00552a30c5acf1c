/**
 * The alert outbox in SQL, as the delivery worker uses it: sink ownership (one server works a sink
 * at a time), a sink's pending events in order, outcomes, storms, and what the dashboard and
 * /metrics read. Events are written by sql/alert-conditions.ts in the transaction of the change.
 */
import type { StoredEvent } from "../../alerts/kinds.js";
import type { DeliveryOutcome, OutboxRow, SinkState, StormChange, StormRow } from "../alert-types.js";
import type { Driver, Query } from "../driver.js";
import { num, outboxRow, sinkState, stormRow } from "../rows.js";
import { enqueue } from "./alert-conditions.js";

export async function ensureSink(db: Driver, name: string): Promise<void> {
  await db.query(
    `INSERT INTO alert_sinks (name, owner, owner_until, paused_until, failures) VALUES ($1, NULL, 0, 0, 0)
     ON CONFLICT (name) DO NOTHING`,
    [name],
  );
}

/**
 * One UPDATE decides: the row lock makes a second server wait, and it then re-reads the WHERE and
 * finds the sink taken. Each server works only the sinks it holds, so each event is sent once.
 */
export async function claimSink(db: Driver, name: string, owner: string, now: number, until: number) {
  const rows = await db.query(
    `UPDATE alert_sinks SET owner = $2, owner_until = $4
     WHERE name = $1 AND (owner = $2 OR owner IS NULL OR owner_until < $3) RETURNING name`,
    [name, owner, now, until],
  );
  return rows.length > 0;
}

export async function releaseSink(db: Driver, name: string, owner: string): Promise<void> {
  await db.query("UPDATE alert_sinks SET owner = NULL, owner_until = 0 WHERE name = $1 AND owner = $2", [
    name,
    owner,
  ]);
}

export async function sinkStates(db: Driver): Promise<SinkState[]> {
  return (await db.query("SELECT * FROM alert_sinks ORDER BY name")).map(sinkState);
}

export async function pending(db: Driver, sink: string, limit: number): Promise<OutboxRow[]> {
  const rows = await db.query(
    `SELECT * FROM alert_outbox WHERE sink = $1 AND state = 'pending'
     ORDER BY created_at, seq, id LIMIT $2`,
    [sink, limit],
  );
  return rows.map(outboxRow);
}

export async function sentSince(db: Driver, sink: string, since: number): Promise<number> {
  const [r] = await db.query(
    "SELECT COUNT(*) AS n FROM alert_outbox WHERE done_at > $2 AND sink = $1 AND state = 'sent'",
    [sink, since],
  );
  return num(r?.n);
}

export async function triggersSince(db: Driver, sink: string, kinds: string[], since: number) {
  if (kinds.length === 0) return [];
  const marks = kinds.map((_, i) => `$${i + 3}`).join(", ");
  const rows = await db.query(
    `SELECT kind, created_at FROM alert_outbox WHERE created_at >= $2 AND sink = $1
     AND action = 'trigger' AND state IN ('sent', 'coalesced', 'failed') AND subject NOT LIKE 'storm:%'
     AND kind IN (${marks})`,
    [sink, since, ...kinds],
  );
  return rows.map((r) => ({ kind: String(r.kind), created_at: num(r.created_at) }));
}

export async function openStorms(db: Driver, sink: string): Promise<StormRow[]> {
  return (await db.query("SELECT * FROM alert_storms WHERE sink = $1 AND closed = 0", [sink])).map(stormRow);
}

export async function stormMembers(db: Driver, stormIds: string[]) {
  if (stormIds.length === 0) return [];
  const marks = stormIds.map((_, i) => `$${i + 1}`).join(", ");
  const rows = await db.query(
    `SELECT kind, subject, seq, storm FROM alert_outbox WHERE storm IN (${marks}) AND action = 'trigger'
     AND subject NOT LIKE 'storm:%'`,
    stormIds,
  );
  return rows.map((r) => ({
    kind: String(r.kind),
    subject: String(r.subject),
    seq: num(r.seq),
    storm: String(r.storm),
  }));
}

async function markCoalesced(q: Query, ids: string[], storm: string, now: number): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const marks = chunk.map((_, j) => `$${j + 3}`).join(", ");
    await q(
      `UPDATE alert_outbox SET state = 'coalesced', storm = $1, done_at = $2
       WHERE state = 'pending' AND id IN (${marks})`,
      [storm, now, ...chunk],
    );
  }
}

export async function applyStorm(db: Driver, sink: string, c: StormChange, now: number): Promise<number> {
  return db.tx(async (q) => {
    const s = c.storm;
    const closed = c.resolve ? 1 : 0;
    if (c.created) {
      await q(
        `INSERT INTO alert_storms (id, sink, kind, opened_at, until_at, members, resolved, closed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [s.id, sink, s.kind, s.opened_at, s.until_at, s.members, s.resolved, closed],
      );
    } else {
      await q(
        "UPDATE alert_storms SET until_at = $2, members = $3, resolved = $4, closed = $5 WHERE id = $1",
        [s.id, s.until_at, s.members, s.resolved, closed],
      );
    }
    await markCoalesced(q, [...c.join, ...c.fold], s.id, now);
    const only = [{ name: sink, on: ["all"] }];
    const policy = { sinks: only, flapWindowMs: 0 };
    let written = 0;
    if (c.trigger) written += await enqueue(q, policy, c.trigger, 1, now, only);
    if (c.resolve) written += await enqueue(q, policy, c.resolve, 2, now, only);
    return written;
  });
}

export async function record(db: Driver, outcomes: DeliveryOutcome[], now: number): Promise<void> {
  if (outcomes.length === 0) return;
  await db.tx(async (q) => {
    for (const o of outcomes) {
      if (o.result === "sent") {
        await q(
          `UPDATE alert_outbox SET state = 'sent', attempts = attempts + 1, done_at = $2, last_status = $3,
           last_error = NULL WHERE id = $1`,
          [o.id, now, o.status],
        );
      } else if (o.result === "retry") {
        await q(
          `UPDATE alert_outbox SET attempts = attempts + 1, next_at = $2, last_status = $3, last_error = $4
           WHERE id = $1`,
          [o.id, o.nextAt, o.status, o.error],
        );
      } else {
        await q(
          `UPDATE alert_outbox SET state = 'failed', attempts = attempts + 1, done_at = $2, last_status = $3,
           last_error = $4 WHERE id = $1`,
          [o.id, now, o.status, o.error],
        );
      }
    }
  });
}

export async function sinkFailed(db: Driver, name: string, pausedUntil: number, error: string, now: number) {
  await db.query(
    `UPDATE alert_sinks SET paused_until = $2, failures = failures + 1, last_error = $3, last_error_at = $4
     WHERE name = $1`,
    [name, pausedUntil, error, now],
  );
}

export async function sinkOk(db: Driver, name: string, now: number): Promise<void> {
  await db.query("UPDATE alert_sinks SET paused_until = 0, failures = 0, last_ok_at = $2 WHERE name = $1", [
    name,
    now,
  ]);
}

export async function recordTest(
  db: Driver,
  sink: string,
  event: StoredEvent,
  o: DeliveryOutcome,
  now: number,
): Promise<void> {
  const state = o.result === "sent" ? "sent" : "failed";
  const error = o.result === "sent" ? null : o.error;
  await db.query(
    `INSERT INTO alert_outbox (id, sink, kind, subject, seq, action, created_at, event, state, attempts, next_at,
     done_at, last_status, last_error) VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8, 1, $6, $6, $9, $10)`,
    [o.id, sink, event.kind, event.subject, event.action, now, JSON.stringify(event), state, o.status, error],
  );
}

export async function recentDeliveries(db: Driver, limit: number): Promise<OutboxRow[]> {
  const rows = await db.query(
    "SELECT * FROM alert_outbox WHERE state <> 'coalesced' ORDER BY created_at DESC, seq DESC LIMIT $1",
    [limit],
  );
  return rows.map(outboxRow);
}

export async function outboxDepth(db: Driver): Promise<Record<string, number>> {
  const rows = await db.query(
    "SELECT sink, COUNT(*) AS n FROM alert_outbox WHERE state = 'pending' GROUP BY sink",
  );
  return Object.fromEntries(rows.map((r) => [String(r.sink), num(r.n)]));
}

export async function prune(db: Driver, before: number): Promise<number> {
  return db.tx(async (q) => {
    await q("DELETE FROM alert_storms WHERE closed = 1 AND opened_at < $1", [before]);
    const gone = await q(
      "DELETE FROM alert_outbox WHERE done_at < $1 AND state IN ('sent', 'failed', 'coalesced') RETURNING id",
      [before],
    );
    return gone.length;
  });
}
