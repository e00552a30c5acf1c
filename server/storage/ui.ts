/**
 * What the dashboard (server/ui/) reads and keeps: admin sessions (by hash, never the secret) and
 * the page queries, each bounded by an index or a page size so pages stay fast with 1,000 nodes and
 * 100,000 reports. Portable SQL over the same `Driver` as sql.ts, so both databases have it.
 */
import { searchSql } from "../search/sql.js";
import type { Driver } from "./driver.js";
import { driftHistory, fleetRow, nodeInfo, num, runPoint, sessionRecord } from "./rows.js";
import { fleetTimeline, type TimelineBucket } from "./sql/timeline.js";
import type {
  DriftHistory,
  FleetCounts,
  FleetQuery,
  FleetRow,
  FleetSort,
  NewSession,
  NodeInfo,
  Rollout,
  RunPoint,
  SessionRecord,
  StaleCut,
  UiStorage,
} from "./ui-types.js";

/** Created with the other tables (sql.ts `init`); idempotent. */
export const uiSchemaStatements = [
  `CREATE TABLE IF NOT EXISTS sessions (hash TEXT PRIMARY KEY, created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL)`,
  // The drift page asks "how often, since when" of drifted rows by resource id and node.
  `CREATE INDEX IF NOT EXISTS report_resources_drift_history ON report_resources (resource, node)
    WHERE drifted = 1`,
];

const staleSql = (iso: string, ms: string) =>
  `((n.last_report_at IS NULL AND n.enrolled_at < ${ms}) OR n.last_report_at < ${iso})`;
const driftedSql =
  "(SELECT COUNT(*) FROM report_resources rr WHERE rr.report_id = n.last_report_id AND rr.drifted = 1)";
const sortSql: Record<FleetSort, string> = {
  name: "n.name",
  last_run: "n.last_report_at",
  status: "n.last_status",
  drifted: driftedSql,
  commit: "n.last_commit",
};

export class SqlUiStorage implements UiStorage {
  constructor(private readonly db: Driver) {}

  async createSession(s: NewSession): Promise<void> {
    await this.db.query("DELETE FROM sessions WHERE expires_at < $1", [s.created_at]);
    await this.db.query(
      "INSERT INTO sessions (hash, created_at, expires_at, principal) VALUES ($1, $2, $3, $4)",
      [s.hash, s.created_at, s.expires_at, s.principal ?? null],
    );
  }

  async getSession(hash: string, now: number): Promise<SessionRecord | undefined> {
    const [r] = await this.db.query("SELECT * FROM sessions WHERE hash = $1 AND expires_at > $2", [
      hash,
      now,
    ]);
    return r ? sessionRecord(r) : undefined;
  }

  async deleteSession(hash: string): Promise<void> {
    await this.db.query("DELETE FROM sessions WHERE hash = $1", [hash]);
  }

  async fleetCounts(stale: StaleCut, liveCommit: string | null): Promise<FleetCounts> {
    const [r] = await this.db.query(
      `SELECT COUNT(*) AS nodes,
       SUM(CASE WHEN n.last_status = 'failed' THEN 1 ELSE 0 END) AS failing,
       SUM(CASE WHEN ${driftedSql} > 0 THEN 1 ELSE 0 END) AS drifted,
       SUM(CASE WHEN ${staleSql("$1", "$2")} THEN 1 ELSE 0 END) AS stale,
       SUM(CASE WHEN n.last_commit = $3 THEN 1 ELSE 0 END) AS on_live
       FROM nodes n`,
      [stale.iso, stale.ms, liveCommit ?? ""],
    );
    return {
      nodes: num(r?.nodes),
      failing: num(r?.failing),
      drifted: num(r?.drifted),
      stale: num(r?.stale),
      onLive: num(r?.on_live),
    };
  }

  async fleet(q: FleetQuery): Promise<{ rows: FleetRow[]; total: number }> {
    const params: unknown[] = [q.stale.iso, q.stale.ms];
    const where: string[] = [];
    if (q.status === "none") where.push("n.last_status IS NULL");
    else if (q.status) {
      params.push(q.status);
      where.push(`n.last_status = $${params.length}`);
    }
    if (q.driftedOnly) where.push(`${driftedSql} > 0`);
    if (q.staleOnly) where.push(staleSql("$1", "$2"));
    if (q.search) {
      params.push(`%${q.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      where.push(`LOWER(n.name) LIKE $${params.length} ESCAPE '\\'`);
    }
    if (q.environment) {
      params.push(q.environment.name);
      where.push(
        q.environment.isDefault
          ? `n.name NOT IN (SELECT node FROM node_environments WHERE environment <> $${params.length})`
          : `n.name IN (SELECT node FROM node_environments WHERE environment = $${params.length})`,
      );
    }
    if (q.where) {
      const param = (v: unknown) => `$${params.push(v)}`;
      const ctx = { kind: this.db.kind, param, stale: staleSql("$1", "$2"), live: q.live ?? null };
      where.push(searchSql(q.where, ctx));
    }
    const filter = where.length ? `WHERE ${where.join(" AND ")}` : "";
    // $1 and $2 must appear in every statement that binds them (PostgreSQL infers their types).
    const [count] = await this.db.query(
      `SELECT COUNT(*) AS total, MAX(CASE WHEN ${staleSql("$1", "$2")} THEN 1 ELSE 0 END) AS any_stale
       FROM nodes n ${filter}`,
      params,
    );
    const dir = q.desc ? "DESC" : "ASC";
    const nulls = q.desc ? "0" : "1"; // missing values last either way
    params.push(q.limit, q.offset);
    const rows = await this.db.query(
      `SELECT n.name, n.enrolled_at, n.last_seen, n.last_report_id, n.last_report_at, n.last_status, n.last_commit,
       ${driftedSql} AS drifted, CASE WHEN ${staleSql("$1", "$2")} THEN 1 ELSE 0 END AS stale
       FROM nodes n ${filter}
       ORDER BY CASE WHEN ${sortSql[q.sort]} IS NULL THEN ${nulls} ELSE ${q.desc ? 1 : 0} END ${dir},
       ${sortSql[q.sort]} ${dir}, n.name ASC
       LIMIT $${params.length - 1} OFFSET $${params.length}`,
      params,
    );
    return {
      total: num(count?.total),
      rows: rows.map(fleetRow),
    };
  }

  async recentRuns(nodes: string[], perNode: number): Promise<Map<string, RunPoint[]>> {
    const out = new Map<string, RunPoint[]>(nodes.map((n) => [n, []]));
    if (nodes.length === 0) return out;
    const marks = nodes.map((_, i) => `$${i + 2}`).join(", ");
    const rows = await this.db.query(
      `SELECT x.*, (SELECT COUNT(*) FROM report_resources rr WHERE rr.report_id = x.id AND rr.drifted = 1)
       AS drifted FROM (SELECT r.id, r.node, r.started_at, r.status, r.mode, r.commit_sha,
       ROW_NUMBER() OVER (PARTITION BY r.node ORDER BY r.started_at DESC, r.received_at DESC) AS rn
       FROM reports r WHERE r.node IN (${marks})) x WHERE x.rn <= $1 ORDER BY x.node, x.rn`,
      [perNode, ...nodes],
    );
    for (const r of rows) out.get(String(r.node))?.push(runPoint(r));
    return out;
  }

  async nodeInfo(name: string): Promise<NodeInfo | undefined> {
    const [r] = await this.db.query(
      `SELECT n.*, (SELECT COUNT(*) FROM reports r WHERE r.node = n.name) AS reports
       FROM nodes n WHERE n.name = $1`,
      [name],
    );
    return r ? nodeInfo(r) : undefined;
  }

  async nodeRuns(node: string, limit: number, offset: number): Promise<RunPoint[]> {
    const count = (cond: string) =>
      `(SELECT COUNT(*) FROM report_resources rr WHERE rr.report_id = r.id AND ${cond})`;
    // What started each run, from the stored report: read for this page's rows only.
    const trigger =
      this.db.kind === "postgres" ? "(r.body::json ->> 'trigger')" : "json_extract(r.body, '$.trigger')";
    const rows = await this.db.query(
      `SELECT r.id, r.node, r.started_at, r.status, r.mode, r.commit_sha, ${trigger} AS run_trigger,
       ${count("rr.drifted = 1")} AS drifted,
       ${count("rr.status IN ('changed', 'would-change')")} AS changed,
       ${count("rr.status = 'failed'")} AS failed
       FROM reports r WHERE r.node = $1 ORDER BY r.started_at DESC, r.received_at DESC
       LIMIT $2 OFFSET $3`,
      [node, limit, offset],
    );
    return rows.map(runPoint);
  }

  async driftHistory(resources: string[]): Promise<DriftHistory[]> {
    if (resources.length === 0) return [];
    const marks = resources.map((_, i) => `$${i + 1}`).join(", ");
    const rows = await this.db.query(
      `SELECT rr.resource, rr.node, COUNT(*) AS times, MIN(r.started_at) AS first
       FROM report_resources rr JOIN reports r ON r.id = rr.report_id
       WHERE rr.drifted = 1 AND rr.resource IN (${marks}) GROUP BY rr.resource, rr.node`,
      resources,
    );
    return rows.map(driftHistory);
  }

  timeline(windowMs: number, bucketMs: number, now: number): Promise<TimelineBucket[]> {
    return fleetTimeline(this.db, windowMs, bucketMs, now);
  }

  async rollout(liveCommit: string | null, stale: StaleCut): Promise<Rollout> {
    const rows = await this.db.query(
      `SELECT k, COUNT(*) AS n FROM (SELECT CASE WHEN ${staleSql("$1", "$2")} THEN 'stale'
       WHEN n.last_commit = $3 AND n.last_status = 'failed' THEN 'failed'
       WHEN n.last_commit = $3 THEN 'converged' ELSE 'older' END AS k FROM nodes n) x GROUP BY k`,
      [stale.iso, stale.ms, liveCommit ?? ""],
    );
    const out: Rollout = { converged: 0, failed: 0, older: 0, stale: 0 };
    for (const r of rows) out[String(r.k) as keyof Rollout] = num(r.n);
    return out;
  }
}
