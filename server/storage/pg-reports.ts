/**
 * PostgreSQL report ingest with group commit: the reports that arrive together are stored by one
 * statement (one round trip, one implicit transaction, one WAL flush), and each is answered only
 * after that statement — its COMMIT — has returned. Under load most of a report's database cost is
 * per statement and per commit (and, on a shared machine, the context switches to the backend),
 * not per row, so sharing them is what lets PostgreSQL keep up.
 *
 * - Grouping: a group starts on the next turn of the event loop; while `maxInFlight` groups are
 *   running, newcomers wait and go together in the next one (at most `maxGroup`). An idle server
 *   therefore stores a lone report at once.
 * - Idempotence is the database's: `ON CONFLICT (id) DO NOTHING`. An id that was not inserted is
 *   looked up after the COMMIT (a new snapshot, so a concurrent insert of the same id is seen):
 *   the same node → "duplicate", another node → "conflict". The same id twice in one group: the
 *   later copies wait for the next group and see the first.
 * - Isolation of failures: if the group's statement fails for any reason other than a lost
 *   connection (say one report holds a string PostgreSQL refuses, or a deadlock with another
 *   server), each report is retried alone, so one bad report fails only itself. A lost connection
 *   fails the whole group with `StorageUnavailable` (503): nothing was acknowledged, and nothing
 *   was committed that the agent will not send again (it is idempotent).
 * - Lock order: a group updates each of its nodes' latest-report pointer; rows are ordered by node
 *   name so two groups of this server lock `nodes` rows in the same order.
 */
import type { Report } from "../../core/types.js";
import type { Query } from "./driver.js";
import { type SaveReportOutcome, StorageUnavailable } from "./types.js";

export interface PendingReport {
  report: Report;
  receivedAt: number;
  body: string;
  kept: Report["resources"];
  /** The report conditions it wants open (`wantedKinds`): equal to the node's, it settles them. */
  want: string;
}

/** A stored report that became its node's latest without settling its conditions needs settling. */
export interface GroupOutcome {
  outcome: SaveReportOutcome;
  unsettled: boolean;
}

interface Waiting extends PendingReport {
  resolve: (outcome: GroupOutcome) => void;
  reject: (err: unknown) => void;
}

/**
 * At most this many reports share a statement, with at most `maxGroupBytes` of bodies between them
 * (counted in characters; a report may be up to `body_bytes`, 16 MiB, and one larger than this
 * goes alone).
 */
const maxGroup = 64;
const maxGroupBytes = 4 * 1024 * 1024;
/** Groups running at once (each on its own pooled connection). */
const maxInFlight = 4;

/**
 * Every report of the group in the arrays $1–$8 and $15–$16 (one element per report, in node
 * order), its body in a parameter of its own ($17 on: the bodies are the bulk of the bytes, and an
 * array literal would have to escape every quote in them, here and again in PostgreSQL), and every
 * kept resource in $9–$14 (tagged with its report's id). Inserted reports get their resource rows
 * and move their node's latest-report pointer (the newest `started_at` of the group per node, the
 * later arrival on a tie), all in this one statement. A report whose wanted conditions ($15) equal
 * the node's open ones (`nodes.alerts`) settles them in the same UPDATE (`alert_report`); the others
 * come back `unsettled`, for the alert code. One text per group size, each prepared once per
 * connection.
 */
const groupSqlBySize = new Map<number, string>();

function groupSql(n: number): string {
  let sql = groupSqlBySize.get(n);
  if (sql) return sql;
  const bodies = Array.from({ length: n }, (_, i) => `(${i + 1}, $${i + 17}::text)`).join(", ");
  sql = `WITH r AS (
    SELECT m.*, b.body FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
      $6::text[], $7::float8[], $8::bigint[], $15::text[], $16::int[])
      WITH ORDINALITY AS m(id, node, commit_sha, mode, status, started_at, duration_ms, received_at,
        want, interval_s, ord)
    JOIN (VALUES ${bodies}) AS b(ord, body) ON b.ord = m.ord),
  ins AS (
    INSERT INTO reports (id, node, commit_sha, mode, status, started_at, duration_ms, received_at, body)
    SELECT id, node, commit_sha, mode, status, started_at, duration_ms, received_at, body FROM r
    ORDER BY ord
    ON CONFLICT (id) DO NOTHING RETURNING id),
  res AS (
    INSERT INTO report_resources (report_id, node, resource, type, status, drifted, changes)
    SELECT r.id, r.node, x.resource, x.type, x.status, x.drifted, x.changes
    FROM unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::int[], $14::text[])
      AS x(report_id, resource, type, status, drifted, changes)
    JOIN ins ON ins.id = x.report_id JOIN r ON r.id = x.report_id
    ON CONFLICT (report_id, resource) DO NOTHING),
  latest AS (
    SELECT DISTINCT ON (r.node) r.id, r.node, r.started_at, r.status, r.commit_sha, r.received_at,
      r.want, r.interval_s
    FROM r JOIN ins ON ins.id = r.id ORDER BY r.node, r.started_at DESC, r.ord DESC),
  upd AS (
    UPDATE nodes SET last_report_id = latest.id, last_report_at = latest.started_at,
      last_status = latest.status, last_commit = latest.commit_sha, last_received = latest.received_at,
      report_interval_s = COALESCE(latest.interval_s, nodes.report_interval_s),
      alert_report = CASE WHEN COALESCE(nodes.alerts, '') = latest.want THEN latest.id
        ELSE nodes.alert_report END
    FROM latest WHERE nodes.name = latest.node
      AND (nodes.last_report_at IS NULL OR nodes.last_report_at <= latest.started_at)
    RETURNING nodes.last_report_id, nodes.alert_report)
  SELECT ins.id, (upd.last_report_id IS NOT NULL AND upd.alert_report IS DISTINCT FROM upd.last_report_id)
    AS unsettled FROM ins LEFT JOIN upd ON upd.last_report_id = ins.id`;
  groupSqlBySize.set(n, sql);
  return sql;
}

export class PostgresReportGroups {
  private readonly waiting: Waiting[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Groups run and reports they held, for tests and the curious. */
  readonly stats = { groups: 0, reports: 0 };

  constructor(private readonly query: Query) {}

  save(p: PendingReport): Promise<GroupOutcome> {
    return new Promise<GroupOutcome>((resolve, reject) => {
      this.waiting.push({ ...p, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0 || this.inFlight >= maxInFlight) return;
    this.scheduled = true;
    // The next turn, not at once: the reports whose requests completed in this turn go together.
    setImmediate(() => {
      this.scheduled = false;
      while (this.waiting.length > 0 && this.inFlight < maxInFlight) this.start(this.take());
    });
  }

  /**
   * The next group: up to `maxGroup` reports and `maxGroupBytes` of bodies, with distinct ids (a
   * repeated id waits for the next group).
   */
  private take(): Waiting[] {
    const group: Waiting[] = [];
    const ids = new Set<string>();
    const later: Waiting[] = [];
    let bytes = 0;
    while (this.waiting.length > 0 && group.length < maxGroup) {
      const next = this.waiting[0] as Waiting;
      if (group.length > 0 && bytes + next.body.length > maxGroupBytes) break;
      const w = this.waiting.shift() as Waiting;
      if (ids.has(w.report.id)) later.push(w);
      else {
        ids.add(w.report.id);
        group.push(w);
        bytes += w.body.length;
      }
    }
    this.waiting.unshift(...later);
    return group;
  }

  private start(group: Waiting[]): void {
    this.inFlight++;
    this.stats.groups++;
    this.stats.reports += group.length;
    void this.run(group).finally(() => {
      this.inFlight--;
      this.schedule();
    });
  }

  private async run(group: Waiting[]): Promise<void> {
    let outcomes: GroupOutcome[];
    try {
      outcomes = await this.store(group);
    } catch (err) {
      if (err instanceof StorageUnavailable || group.length === 1) {
        for (const w of group) w.reject(err);
        return;
      }
      // Something in the group was refused: each alone, so it fails only itself.
      await Promise.all(
        group.map((w) =>
          this.store([w]).then(
            ([outcome]) => w.resolve(outcome as GroupOutcome),
            (e: unknown) => w.reject(e),
          ),
        ),
      );
      return;
    }
    for (const [i, w] of group.entries()) w.resolve(outcomes[i] as GroupOutcome);
  }

  /** Stores `group` (distinct ids) in one statement; the outcome of each, in order. */
  private async store(group: Waiting[]): Promise<GroupOutcome[]> {
    const rows = [...group].sort((a, b) =>
      a.report.node < b.report.node ? -1 : a.report.node > b.report.node ? 1 : 0,
    );
    const res: [string[], string[], string[], string[], number[], string[]] = [[], [], [], [], [], []];
    for (const w of rows) {
      for (const x of w.kept) {
        res[0].push(w.report.id);
        res[1].push(x.id);
        res[2].push(x.type);
        res[3].push(x.status);
        res[4].push(x.drifted ? 1 : 0);
        res[5].push(JSON.stringify(x.changes));
      }
    }
    const inserted = await this.query(groupSql(rows.length), [
      rows.map((w) => w.report.id),
      rows.map((w) => w.report.node),
      rows.map((w) => w.report.commit),
      rows.map((w) => w.report.mode),
      rows.map((w) => w.report.status),
      rows.map((w) => w.report.started_at),
      rows.map((w) => w.report.duration_ms),
      rows.map((w) => w.receivedAt),
      ...res,
      rows.map((w) => w.want),
      rows.map((w) => w.report.interval_s ?? null),
      ...rows.map((w) => w.body),
    ]);
    const stored = new Set(inserted.map((r) => String(r.id)));
    const unsettled = new Set(inserted.filter((r) => r.unsettled === true).map((r) => String(r.id)));
    const missed = group.filter((w) => !stored.has(w.report.id)).map((w) => w.report.id);
    const owner = new Map<string, string>();
    if (missed.length > 0) {
      // Stored before, by this node (a retry) or by another (a taken id); read after the COMMIT.
      const prior = await this.query("SELECT id, node FROM reports WHERE id = ANY($1::text[])", [missed]);
      for (const r of prior) owner.set(String(r.id), String(r.node));
    }
    return group.map((w) => {
      if (stored.has(w.report.id)) return { outcome: "stored", unsettled: unsettled.has(w.report.id) };
      const outcome = owner.get(w.report.id) === w.report.node ? "duplicate" : "conflict";
      return { outcome, unsettled: false };
    });
  }
}
