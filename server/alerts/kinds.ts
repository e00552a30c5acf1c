/**
 * Alert conditions as data: the kinds tend raises, their severity, the dedup key of a (subject,
 * kind), and what an alert event carries. A new kind is a name here plus one `raise`/`clear` call
 * where it is detected (docs/alerts.md); nothing else in the alert code knows the kinds.
 */

/** The kinds tend raises today; `on:` in server.yaml names these (or `all`). */
export const conditionKinds = [
  "failing",
  "stale",
  "drifted",
  "contested",
  "refused-commit",
  "rollout-halted",
] as const;
export type ConditionKind = (typeof conditionKinds)[number];

/** Kinds the report evaluator keeps in a node's row (`nodes.alerts`): a report settles them. */
export const nodeKinds = ["contested", "drifted", "failing", "stale"] as const;

/** PagerDuty's four severities (Events API v2 `payload.severity`). */
export type Severity = "critical" | "error" | "warning" | "info";

const severities: Record<string, Severity> = {
  failing: "error",
  "refused-commit": "error",
  "rollout-halted": "error",
  stale: "warning",
  drifted: "warning",
  contested: "warning",
};

export function severityOf(kind: string): Severity {
  return severities[kind] ?? "info";
}

/** Subjects of storm alerts (many triggers of one kind sent as one, see storms.ts). */
export const stormPrefix = "storm:";

/** Stable per (subject, kind): `tend/web-1/failing`, `tend/recipes/refused-commit`. */
export function dedupKey(kind: string, subject: string): string {
  return `tend/${subject}/${kind}`.slice(0, 255);
}

/** What a condition carries beyond its kind and subject; free-form, documented in alert-event.schema.json. */
export type AlertDetails = Record<string, unknown>;

/** What raising a condition needs: the sentence a person reads first, and the details. */
export interface RaiseInput {
  /** The node the condition is about, or null (a commit, the fleet). */
  node: string | null;
  summary: string;
  details: AlertDetails;
}

/** One alert event as stored in the outbox: everything but where it goes. */
export interface StoredEvent {
  action: "trigger" | "resolve" | "test";
  kind: string;
  subject: string;
  node: string | null;
  summary: string;
  severity: Severity;
  /** When the condition changed (opened, or resolved). */
  at: string;
  opened_at: string;
  details: AlertDetails;
  storm?: { id: string; count: number; nodes: string[] };
}

/** The event as it leaves (the webhook body, schemas/alert-event.schema.json). */
export interface AlertEvent extends StoredEvent {
  format: 1;
  /** The delivery id: one per event and sink, the same on every retry. */
  id: string;
  dedup_key: string;
  /** The server's public URL. */
  server: string;
  /** The report page of the run the event is about, or null. */
  report_url: string | null;
  /** The page that shows what happened: the report, the node, the commits or the alerts page. */
  link: string;
}

/** The report page of the run an event is about, under the server's public URL. */
export function reportUrl(server: string, e: StoredEvent): string | null {
  const id = e.details.report_id ?? e.details.last_report_id;
  return typeof id === "string" ? `${server.replace(/\/+$/, "")}/ui/reports/${encodeURIComponent(id)}` : null;
}

/**
 * The page an event points at: a trigger's report, else (a resolve: how it is now) the node, the
 * commits or the alerts page.
 */
export function eventLink(server: string, e: StoredEvent): string {
  const base = server.replace(/\/+$/, "");
  if (e.storm || e.kind === "test") return `${base}/ui/alerts`;
  if (e.kind === "refused-commit") return `${base}/ui/commits`;
  if (e.kind === "rollout-halted" && typeof e.details.rollout_id === "number")
    return `${base}/ui/rollouts/${e.details.rollout_id}`;
  if (e.action === "resolve" && e.node) return `${base}/ui/nodes/${encodeURIComponent(e.node)}`;
  const report = reportUrl(server, e);
  if (report) return report;
  if (e.node) return `${base}/ui/nodes/${encodeURIComponent(e.node)}`;
  return `${base}/ui/alerts`;
}

export function toAlertEvent(id: string, server: string, e: StoredEvent): AlertEvent {
  return {
    format: 1,
    id,
    dedup_key: dedupKey(e.kind, e.subject),
    server,
    report_url: reportUrl(server, e),
    link: eventLink(server, e),
    ...e,
  };
}

/** The first line of a text, at most `max` characters. */
export function firstLine(text: unknown, max = 300): string {
  const line =
    String(text ?? "")
      .trim()
      .split("\n")[0] ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
