/**
 * Rows as the drivers return them → the domain objects of types.ts and ui.ts: the one place that
 * knows how each column comes back. PostgreSQL returns BIGINT and COUNT(*) as strings and SQLite
 * returns numbers, and booleans are 0/1 integers in both, hence the conversions.
 */
import type { ConditionRow } from "../alerts/conditions.js";
import type { StoredEvent } from "../alerts/kinds.js";
import type { DuplicateIdentity } from "../duplicates.js";
import { isRole } from "../roles.js";
import type { OutboxRow, SinkState, StormRow } from "./alert-types.js";
import type { Row } from "./driver.js";
import type {
  AuditEntry,
  CommitRecord,
  DriftRow,
  NodeIdentity,
  NodeSummary,
  ReportSummary,
  RevocationRecord,
  TokenRecord,
  UserRecord,
} from "./types.js";
import type { DriftHistory, FleetRow, NodeInfo, RunPoint, SessionRecord } from "./ui-types.js";

/** A number; a NULL (an aggregate over no rows) counts as 0. */
export const num = (v: unknown): number => Number(v ?? 0);
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
export const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const json = (v: unknown): unknown => JSON.parse(String(v));

export function tokenRecord(r: Row): TokenRecord {
  return {
    hash: String(r.hash),
    kind: r.kind === "admin" ? "admin" : "enroll",
    created_at: num(r.created_at),
    expires_at: numOrNull(r.expires_at),
    uses_left: numOrNull(r.uses_left),
    node_glob: strOrNull(r.node_glob),
    reenroll: num(r.reenroll) === 1,
    // NULL: a token from before roles, which was an admin's; a role this version does not know
    // reads as the least.
    role: isRole(r.role) ? r.role : r.role === null || r.role === undefined ? "admin" : "viewer",
  };
}

export function userRecord(r: Row): UserRecord {
  return {
    name: String(r.name),
    // A role this version does not know reads as the least (default deny).
    role: isRole(r.role) ? r.role : "viewer",
    password_hash: String(r.password_hash),
    created_at: num(r.created_at),
    changed_at: num(r.changed_at),
  };
}

export function auditEntry(r: Row): AuditEntry {
  return {
    id: num(r.id),
    at: num(r.at),
    actor: String(r.actor),
    role: String(r.role),
    action: String(r.action),
    nodes: json(r.nodes) as string[],
    details: json(r.details) as Record<string, unknown>,
    address: strOrNull(r.address),
  };
}

export function revocationRecord(r: Row): RevocationRecord {
  return { at: num(r.at), kind: r.kind === "node" ? "node" : "token", subject: String(r.subject) };
}

export function nodeIdentity(r: Row): NodeIdentity {
  return {
    name: String(r.name),
    catalogSerial: num(r.catalog_serial),
    catalogDigest: strOrNull(r.catalog_digest),
  };
}

/** With `drifted`: the count of drifted resources in the node's last report. */
export function nodeSummary(r: Row): NodeSummary {
  return {
    name: String(r.name),
    enrolled_at: num(r.enrolled_at),
    last_seen: numOrNull(r.last_seen),
    last_report_id: strOrNull(r.last_report_id),
    last_report_at: strOrNull(r.last_report_at),
    last_status: strOrNull(r.last_status),
    last_commit: strOrNull(r.last_commit),
    drifted: num(r.drifted),
  };
}

/** As nodeSummary for the fleet page, with `stale` (0/1 in the row). */
export function fleetRow(r: Row): FleetRow {
  return {
    name: String(r.name),
    enrolled_at: num(r.enrolled_at),
    last_seen: numOrNull(r.last_seen),
    last_report_id: strOrNull(r.last_report_id),
    last_report_at: strOrNull(r.last_report_at),
    last_status: strOrNull(r.last_status),
    last_commit: strOrNull(r.last_commit),
    drifted: num(r.drifted),
    stale: num(r.stale) === 1,
  };
}

/** A node's page: its facts and how many reports it has. */
export function nodeInfo(r: Row): NodeInfo {
  return {
    name: String(r.name),
    enrolled_at: num(r.enrolled_at),
    last_seen: numOrNull(r.last_seen),
    facts: r.facts ? (json(r.facts) as NodeInfo["facts"]) : null,
    last_report_id: strOrNull(r.last_report_id),
    last_status: strOrNull(r.last_status),
    last_commit: strOrNull(r.last_commit),
    reports: num(r.reports),
  };
}

export function reportSummary(r: Row): ReportSummary {
  return {
    id: String(r.id),
    node: String(r.node),
    commit: strOrNull(r.commit_sha),
    mode: String(r.mode),
    status: String(r.status),
    started_at: String(r.started_at),
    duration_ms: num(r.duration_ms),
    received_at: num(r.received_at),
  };
}

/** A report's run as the dashboard draws it; the counts default to 0 where the query has none. */
export function runPoint(r: Row): RunPoint {
  return {
    id: String(r.id),
    node: String(r.node),
    started_at: String(r.started_at),
    status: String(r.status),
    mode: String(r.mode),
    commit: strOrNull(r.commit_sha),
    drifted: num(r.drifted),
    changed: num(r.changed),
    failed: num(r.failed),
    ...(r.run_trigger !== undefined ? { trigger: strOrNull(r.run_trigger) } : {}),
  };
}

/** A drifted resource of a node's last report (`id` is the report's). */
export function driftRow(r: Row): DriftRow {
  return {
    node: String(r.node),
    report_id: String(r.id),
    commit: strOrNull(r.commit_sha),
    started_at: String(r.started_at),
    resource: String(r.resource),
    type: String(r.type),
    status: String(r.status),
    changes: json(r.changes),
  };
}

export function driftHistory(r: Row): DriftHistory {
  return { resource: String(r.resource), node: String(r.node), times: num(r.times), first: String(r.first) };
}

export function commitRecord(r: Row): CommitRecord {
  return {
    sha: String(r.sha),
    valid: num(r.valid) === 1,
    problems: json(r.problems) as CommitRecord["problems"],
    seen_at: num(r.seen_at),
    summary: String(r.summary),
    ...(r.branch ? { branch: String(r.branch) } : {}),
  };
}

export function sessionRecord(r: Row): SessionRecord {
  return {
    hash: String(r.hash),
    created_at: num(r.created_at),
    expires_at: num(r.expires_at),
    principal: strOrNull(r.principal),
  };
}

export function duplicateAlert(r: Row): { alert: DuplicateIdentity; enrolled: number } {
  return { alert: json(r.value) as DuplicateIdentity, enrolled: num(r.enrolled_at) };
}

export function conditionRow(r: Row): ConditionRow {
  return {
    kind: String(r.kind),
    subject: String(r.subject),
    node: strOrNull(r.node),
    state: r.state === "open" || r.state === "clearing" ? r.state : "closed",
    seq: num(r.seq),
    opened_at: num(r.opened_at),
    changed_at: num(r.changed_at),
    clear_at: numOrNull(r.clear_at),
    flaps: num(r.flaps),
    summary: String(r.summary),
    details: json(r.details) as ConditionRow["details"],
  };
}

export function outboxRow(r: Row): OutboxRow {
  return {
    id: String(r.id),
    sink: String(r.sink),
    kind: String(r.kind),
    subject: String(r.subject),
    seq: num(r.seq),
    action: String(r.action) as OutboxRow["action"],
    created_at: num(r.created_at),
    event: json(r.event) as StoredEvent,
    state: String(r.state) as OutboxRow["state"],
    attempts: num(r.attempts),
    next_at: num(r.next_at),
    done_at: numOrNull(r.done_at),
    last_status: numOrNull(r.last_status),
    last_error: strOrNull(r.last_error),
    storm: strOrNull(r.storm),
  };
}

export function sinkState(r: Row): SinkState {
  return {
    name: String(r.name),
    owner: strOrNull(r.owner),
    owner_until: num(r.owner_until),
    paused_until: num(r.paused_until),
    failures: num(r.failures),
    last_ok_at: numOrNull(r.last_ok_at),
    last_error: strOrNull(r.last_error),
    last_error_at: numOrNull(r.last_error_at),
  };
}

export function stormRow(r: Row): StormRow {
  return {
    id: String(r.id),
    sink: String(r.sink),
    kind: String(r.kind),
    opened_at: num(r.opened_at),
    until_at: num(r.until_at),
    members: num(r.members),
    resolved: num(r.resolved),
  };
}
