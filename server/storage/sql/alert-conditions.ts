/**
 * Alert conditions in SQL: a condition row per (kind, subject), changed only inside a transaction
 * that also writes its events to the outbox (one row per sink that wants the kind), so an alert is
 * never lost nor sent for a change that did not commit. A node's open report-settled conditions
 * are mirrored in `nodes.alerts`, so a report that changes nothing costs no query here (see
 * `settledBy` in sql/reports.ts).
 */
import { randomUUID } from "node:crypto";
import type { Report } from "../../../core/types.js";
import { type ConditionRow, clear, expire, raise, type Transition } from "../../alerts/conditions.js";
import { reportConditions } from "../../alerts/detect.js";
import { nodeKinds, type RaiseInput, type StoredEvent } from "../../alerts/kinds.js";
import type { AlertPolicy } from "../alert-types.js";
import type { Query } from "../driver.js";
import { conditionRow } from "../rows.js";

export const alertSchemaStatements = [
  `CREATE TABLE IF NOT EXISTS alert_conditions (kind TEXT NOT NULL, subject TEXT NOT NULL, node TEXT,
    state TEXT NOT NULL, seq INTEGER NOT NULL, opened_at BIGINT NOT NULL, changed_at BIGINT NOT NULL,
    clear_at BIGINT, flaps INTEGER NOT NULL, summary TEXT NOT NULL, details TEXT NOT NULL,
    PRIMARY KEY (kind, subject))`,
  "CREATE INDEX IF NOT EXISTS alert_conditions_live ON alert_conditions (state) WHERE state <> 'closed'",
  "CREATE INDEX IF NOT EXISTS alert_conditions_subject ON alert_conditions (subject)",
  // One row per event and sink; `seq` orders a condition's events, `id` is the delivery id.
  `CREATE TABLE IF NOT EXISTS alert_outbox (id TEXT PRIMARY KEY, sink TEXT NOT NULL, kind TEXT NOT NULL,
    subject TEXT NOT NULL, seq INTEGER NOT NULL, action TEXT NOT NULL, created_at BIGINT NOT NULL,
    event TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, next_at BIGINT NOT NULL,
    done_at BIGINT, last_status INTEGER, last_error TEXT, storm TEXT)`,
  "CREATE INDEX IF NOT EXISTS alert_outbox_pending ON alert_outbox (sink, created_at, seq) WHERE state = 'pending'",
  "CREATE INDEX IF NOT EXISTS alert_outbox_key ON alert_outbox (sink, kind, subject, seq)",
  "CREATE INDEX IF NOT EXISTS alert_outbox_done ON alert_outbox (done_at) WHERE done_at IS NOT NULL",
  "CREATE INDEX IF NOT EXISTS alert_outbox_created ON alert_outbox (created_at)",
  "CREATE INDEX IF NOT EXISTS alert_outbox_storm ON alert_outbox (storm) WHERE storm IS NOT NULL",
  // A sink is worked by one server at a time (owner, until); paused_until is its shared backoff.
  `CREATE TABLE IF NOT EXISTS alert_sinks (name TEXT PRIMARY KEY, owner TEXT, owner_until BIGINT NOT NULL,
    paused_until BIGINT NOT NULL, failures INTEGER NOT NULL, last_ok_at BIGINT, last_error TEXT,
    last_error_at BIGINT)`,
  `CREATE TABLE IF NOT EXISTS alert_storms (id TEXT PRIMARY KEY, sink TEXT NOT NULL, kind TEXT NOT NULL,
    opened_at BIGINT NOT NULL, until_at BIGINT NOT NULL, members INTEGER NOT NULL,
    resolved INTEGER NOT NULL, closed INTEGER NOT NULL)`,
];

/** Columns alerting adds to `nodes` (migrate.ts adds them to existing databases). */
export const alertNodeColumns = [
  // Its open report-settled conditions (drifted, failing, stale), comma-separated.
  { table: "nodes", column: "alerts", type: "TEXT" },
  // The report its conditions were last settled by.
  { table: "nodes", column: "alert_report", type: "TEXT" },
  // Its schedule interval, from its reports, and when its latest report arrived (server clock).
  { table: "nodes", column: "report_interval_s", type: "INTEGER" },
  { table: "nodes", column: "last_received", type: "BIGINT" },
];

const conditionColumns =
  "kind, subject, node, state, seq, opened_at, changed_at, clear_at, flaps, summary, details";

/** The condition, locked for this transaction on PostgreSQL (a placeholder row makes it lockable). */
export async function lockCondition(
  q: Query,
  pg: boolean,
  kind: string,
  subject: string,
): Promise<ConditionRow | undefined> {
  if (pg) {
    await q(
      `INSERT INTO alert_conditions (${conditionColumns})
       VALUES ($1, $2, NULL, 'closed', 0, 0, 0, NULL, 0, '', '{}') ON CONFLICT (kind, subject) DO NOTHING`,
      [kind, subject],
    );
  }
  const [r] = await q(
    `SELECT ${conditionColumns} FROM alert_conditions WHERE kind = $1 AND subject = $2${pg ? " FOR UPDATE" : ""}`,
    [kind, subject],
  );
  return r && !(r.state === "closed" && Number(r.seq) === 0) ? conditionRow(r) : undefined;
}

/** Stores the transition's row and enqueues its event for every sink that wants the kind. */
export async function applyTransition(
  q: Query,
  policy: AlertPolicy,
  t: Transition,
  now: number,
): Promise<number> {
  if (!t.row) return 0;
  const r = t.row;
  await q(
    `INSERT INTO alert_conditions (${conditionColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (kind, subject) DO UPDATE SET node = excluded.node, state = excluded.state,
     seq = excluded.seq, opened_at = excluded.opened_at, changed_at = excluded.changed_at,
     clear_at = excluded.clear_at, flaps = excluded.flaps, summary = excluded.summary, details = excluded.details`,
    [
      r.kind,
      r.subject,
      r.node,
      r.state,
      r.seq,
      r.opened_at,
      r.changed_at,
      r.clear_at,
      r.flaps,
      r.summary,
      JSON.stringify(r.details),
    ],
  );
  return t.event ? enqueue(q, policy, t.event, r.seq, now) : 0;
}

/** One outbox row per sink whose `on` names the event's kind (or `all`); how many. */
export async function enqueue(
  q: Query,
  policy: AlertPolicy,
  event: StoredEvent,
  seq: number,
  now: number,
  sinks = policy.sinks.filter((s) => s.on.includes("all") || s.on.includes(event.kind)),
  storm: string | null = null,
): Promise<number> {
  if (sinks.length === 0) return 0;
  const json = JSON.stringify(event);
  const params: unknown[] = [event.kind, event.subject, seq, event.action, now, json, storm];
  const values = sinks.map((s) => {
    params.push(randomUUID(), s.name);
    return `($${params.length - 1}, $${params.length}, $1, $2, $3, $4, $5, $6, 'pending', 0, $5, $7)`;
  });
  await q(
    `INSERT INTO alert_outbox (id, sink, kind, subject, seq, action, created_at, event, state, attempts,
     next_at, storm) VALUES ${values.join(", ")}`,
    params,
  );
  return sinks.length;
}

/** Raises or clears one condition in its own transaction's `q`. */
export async function change(
  q: Query,
  pg: boolean,
  policy: AlertPolicy,
  kind: string,
  subject: string,
  input: RaiseInput | null,
  now: number,
): Promise<number> {
  const prev = await lockCondition(q, pg, kind, subject);
  const t = input ? raise(prev, kind, subject, input, now) : clear(prev, now, policy.flapWindowMs);
  return applyTransition(q, policy, t, now);
}

const openNodeKinds = (rows: Map<string, ConditionRow>) =>
  nodeKinds.filter((k) => rows.get(k)?.state === "open").join(",");

/** The node kinds as an SQL list: constants of kinds.ts, never input. */
const nodeKindList = nodeKinds.map((k) => `'${k}'`).join(", ");

async function nodeConditions(q: Query, pg: boolean, node: string): Promise<Map<string, ConditionRow>> {
  const rows = await q(
    `SELECT ${conditionColumns} FROM alert_conditions WHERE subject = $1
     AND kind IN (${nodeKindList})${pg ? " FOR UPDATE" : ""}`,
    [node],
  );
  return new Map(rows.filter((r) => Number(r.seq) > 0).map((r) => [String(r.kind), conditionRow(r)]));
}

/**
 * Settles a node's report conditions by its latest report (failing and drifted as that report says,
 * stale cleared: it reported) under the node's row lock; `report` saves reading it when it is the
 * latest. Records the report as settled. Returns how many outbox rows were written.
 */
export async function settleNode(
  q: Query,
  pg: boolean,
  policy: AlertPolicy,
  node: string,
  report: Report | null,
  now: number,
): Promise<number> {
  const [n] = await q(`SELECT last_report_id FROM nodes WHERE name = $1${pg ? " FOR UPDATE" : ""}`, [node]);
  const latest =
    n?.last_report_id === null || n?.last_report_id === undefined ? null : String(n.last_report_id);
  if (!latest) return 0;
  let settling = report?.id === latest ? report : null;
  if (!settling) {
    const [r] = await q("SELECT body FROM reports WHERE id = $1", [latest]);
    settling = r ? (JSON.parse(String(r.body)) as Report) : null;
  }
  if (!settling) return 0;
  const conditions = await nodeConditions(q, pg, node);
  const want = reportConditions(settling);
  let written = 0;
  for (const kind of nodeKinds) {
    const prev = conditions.get(kind);
    const input = want.get(kind);
    const t = input ? raise(prev, kind, node, input, now) : clear(prev, now, policy.flapWindowMs);
    written += await applyTransition(q, policy, t, now);
    if (t.row) conditions.set(kind, t.row);
  }
  await q("UPDATE nodes SET alerts = $2, alert_report = $3 WHERE name = $1", [
    node,
    openNodeKinds(conditions),
    latest,
  ]);
  return written;
}

/** Raises `stale` on one node after checking again, under its row lock, that it still is. */
export async function raiseStale(
  q: Query,
  pg: boolean,
  policy: AlertPolicy,
  node: string,
  isStale: (n: Record<string, unknown>) => RaiseInput | null,
  now: number,
): Promise<number> {
  const [n] = await q(
    `SELECT name, enrolled_at, last_seen, last_received, last_report_id, last_report_at, report_interval_s,
     credential_hash
     FROM nodes WHERE name = $1${pg ? " FOR UPDATE" : ""}`,
    [node],
  );
  const input = n && !String(n.credential_hash).startsWith("revoked:") ? isStale(n) : null;
  if (!input) return 0;
  const conditions = await nodeConditions(q, pg, node);
  const t = raise(conditions.get("stale"), "stale", node, input, now);
  const written = await applyTransition(q, policy, t, now);
  if (t.row) conditions.set("stale", t.row);
  await q("UPDATE nodes SET alerts = $2 WHERE name = $1", [node, openNodeKinds(conditions)]);
  return written;
}

/** Resolves one clearing condition whose window has passed (checked again under its lock). */
export async function expireOne(
  q: Query,
  pg: boolean,
  policy: AlertPolicy,
  kind: string,
  subject: string,
  now: number,
): Promise<number> {
  const prev = await lockCondition(q, pg, kind, subject);
  return prev ? applyTransition(q, policy, expire(prev, now), now) : 0;
}
