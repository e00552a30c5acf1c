/**
 * Run reports: stored whole (the body as received) with a row per resource that the drift and
 * dashboard queries count, each node's latest report, the drift view over those, and pruning.
 */
import type { Report } from "../../../core/types.js";
import { wantedKinds } from "../../alerts/detect.js";
import type { Driver, Query } from "../driver.js";
import { driftRow, num, reportSummary } from "../rows.js";
import type { DriftRow, ReportSummary, SaveReportOutcome } from "../types.js";

/**
 * Which resources of a report get a row in report_resources: those the drift and dashboard
 * queries count (drifted, changed, would-change, failed, skipped, unknown). A plain `unchanged`
 * resource that did not drift gets none; every resource stays in the report's body
 * (`GET /reports/ID`). Most runs change nothing, so this is most rows of most reports.
 */
export function keptResource(r: Report["resources"][number]): boolean {
  return r.drifted || r.status !== "unchanged";
}

/**
 * One report in one transaction (SQLite; PostgreSQL stores reports in groups, pg-reports.ts). When
 * it becomes its node's latest, it settles the node's alert conditions in the same transaction:
 * in the UPDATE itself when it wants open exactly what is open (`nodes.alerts`, the common case: no
 * query more), else through `settle` (which writes the condition changes and their outbox rows).
 */
export function saveReport(
  db: Driver,
  report: Report,
  receivedAt: number,
  json: string,
  kept: Report["resources"],
  settle: (q: Query) => Promise<number>,
): Promise<{ outcome: SaveReportOutcome; written: number }> {
  return db.tx(async (q) => {
    const inserted = await q(
      `INSERT INTO reports (id, node, commit_sha, mode, status, started_at, duration_ms, received_at, body)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [
        report.id,
        report.node,
        report.commit,
        report.mode,
        report.status,
        report.started_at,
        report.duration_ms,
        receivedAt,
        json,
      ],
    );
    if (inserted.length === 0) {
      const [prior] = await q("SELECT node FROM reports WHERE id = $1", [report.id]);
      return { outcome: prior?.node === report.node ? "duplicate" : "conflict", written: 0 };
    }
    // One prepared single-row INSERT, run once per kept resource inside the transaction.
    for (const r of kept) {
      await q(
        `INSERT INTO report_resources (report_id, node, resource, type, status, drifted, changes)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (report_id, resource) DO NOTHING`,
        [report.id, report.node, r.id, r.type, r.status, r.drifted ? 1 : 0, JSON.stringify(r.changes)],
      );
    }
    const [latest] = await q(
      `UPDATE nodes SET last_report_id = $2, last_report_at = $3, last_status = $4, last_commit = $5,
       last_received = $6, report_interval_s = COALESCE($7, report_interval_s),
       alert_report = CASE WHEN COALESCE(alerts, '') = $8 THEN $2 ELSE alert_report END
       WHERE name = $1 AND (last_report_at IS NULL OR last_report_at <= $3) RETURNING alert_report`,
      [
        report.node,
        report.id,
        report.started_at,
        report.status,
        report.commit,
        receivedAt,
        report.interval_s ?? null,
        wantedKinds(report),
      ],
    );
    const written = latest && latest.alert_report !== report.id ? await settle(q) : 0;
    return { outcome: "stored", written };
  });
}

export async function nodeReports(db: Driver, node: string, limit: number): Promise<ReportSummary[]> {
  const rows = await db.query(
    `SELECT id, node, commit_sha, mode, status, started_at, duration_ms, received_at FROM reports
     WHERE node = $1 ORDER BY started_at DESC, received_at DESC LIMIT $2`,
    [node, limit],
  );
  return rows.map(reportSummary);
}

export async function getReport(db: Driver, id: string): Promise<Report | undefined> {
  const [r] = await db.query("SELECT body FROM reports WHERE id = $1", [id]);
  return r ? (JSON.parse(String(r.body)) as Report) : undefined;
}

/** The drifted resources of each node's latest report. */
export async function drift(db: Driver): Promise<DriftRow[]> {
  const rows = await db.query(
    `SELECT r.node, r.id, r.commit_sha, r.started_at, rr.resource, rr.type, rr.status, rr.changes
     FROM nodes n JOIN reports r ON r.id = n.last_report_id
     JOIN report_resources rr ON rr.report_id = r.id AND rr.drifted = 1
     ORDER BY r.node, rr.resource`,
  );
  return rows.map(driftRow);
}

export function pruneReports(db: Driver, before: number): Promise<number> {
  return db.tx(async (q) => {
    const old = `SELECT id FROM reports WHERE received_at < $1 AND id NOT IN
      (SELECT last_report_id FROM nodes WHERE last_report_id IS NOT NULL)`;
    await q(`DELETE FROM report_resources WHERE report_id IN (${old})`, [before]);
    // What was served long ago, except the commit each node last reported (it may still run it).
    await q(
      `DELETE FROM served_commits WHERE first_at < $1 AND NOT EXISTS
        (SELECT 1 FROM nodes n WHERE n.name = served_commits.node AND n.last_commit = served_commits.commit_sha)`,
      [before],
    );
    return (await q(`DELETE FROM reports WHERE id IN (${old}) RETURNING id`, [before])).length;
  });
}

export async function nodesByStatus(db: Driver): Promise<Record<string, number>> {
  const rows = await db.query(
    "SELECT COALESCE(last_status, 'none') AS status, COUNT(*) AS n FROM nodes GROUP BY COALESCE(last_status, 'none')",
  );
  return Object.fromEntries(rows.map((r) => [String(r.status), num(r.n)]));
}
