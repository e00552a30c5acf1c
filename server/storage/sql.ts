/** `Storage` in portable SQL over a `Driver`: the one implementation both databases share. */
import { randomBytes } from "node:crypto";
import type { Facts, Report } from "../../core/types.js";
import type { DuplicateIdentity } from "../duplicates.js";
import { BatchedLookup } from "./batched-lookup.js";
import { type Driver, type Query, type Row, schemaStatements } from "./driver.js";
import { PostgresReportGroups } from "./pg-reports.js";
import type {
  CommitRecord,
  DriftRow,
  EnrollOutcome,
  NodeIdentity,
  NodeSummary,
  ReportSummary,
  RevocationRecord,
  SaveReportOutcome,
  Storage,
  TokenRecord,
} from "./types.js";
import { SqlUiStorage, uiSchemaStatements } from "./ui.js";

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export class SqlStorage implements Storage {
  readonly kind: "sqlite" | "postgres";
  readonly ui: SqlUiStorage;
  /** PostgreSQL: reports stored in groups, one statement per group (see pg-reports.ts). */
  readonly reportGroups: PostgresReportGroups | undefined;
  private readonly credentialLookup: BatchedLookup<NodeIdentity> | undefined;

  constructor(private readonly db: Driver) {
    this.kind = db.kind;
    this.ui = new SqlUiStorage(db);
    // SQLite groups in its driver (several transactions under one COMMIT).
    this.reportGroups = db.kind === "postgres" ? new PostgresReportGroups(db.query) : undefined;
    // PostgreSQL: the credential lookups of one turn in one query (a round trip each otherwise).
    this.credentialLookup =
      db.kind === "postgres" ? new BatchedLookup((hashes) => this.authenticateMany(hashes)) : undefined;
  }

  private async authenticateMany(hashes: string[]): Promise<Map<string, NodeIdentity>> {
    const rows = await this.db.query(
      `SELECT credential_hash, name, catalog_serial, catalog_digest FROM nodes
       WHERE credential_hash = ANY($1::text[])`,
      [hashes],
    );
    return new Map(
      rows.map((r) => [
        String(r.credential_hash),
        {
          name: String(r.name),
          catalogSerial: num(r.catalog_serial),
          catalogDigest: strOrNull(r.catalog_digest),
        },
      ]),
    );
  }

  init(): Promise<void> {
    return this.db.migrate([...schemaStatements, ...uiSchemaStatements]);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async ping(): Promise<void> {
    await this.db.query("SELECT 1 AS one");
  }

  async createToken(t: TokenRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO tokens (hash, kind, created_at, expires_at, uses_left, node_glob, reenroll)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [t.hash, t.kind, t.created_at, t.expires_at, t.uses_left, t.node_glob, t.reenroll ? 1 : 0],
    );
  }

  async getToken(hash: string): Promise<TokenRecord | undefined> {
    const [r] = await this.db.query("SELECT * FROM tokens WHERE hash = $1", [hash]);
    return r ? tokenRecord(r) : undefined;
  }

  /**
   * Node first, then token, in one transaction. The name is claimed by the INSERT itself (its
   * primary key), not by a look beforehand: on PostgreSQL two simultaneous first enrolments of one
   * name both saw no row and the second silently replaced the first's credential. Now the second's
   * INSERT waits for the first to commit and then conflicts, so it is refused (`node-exists`) or,
   * with a token that allows it, supersedes the first (and says so). A token found spent rolls the
   * whole enrolment back.
   */
  async enroll(a: {
    tokenHash: string;
    node: string;
    credentialHash: string;
    now: number;
    allowSupersede: boolean;
  }): Promise<EnrollOutcome> {
    try {
      return await this.db.tx(async (q) => {
        const claimed = await q(
          `INSERT INTO nodes (name, credential_hash, enrolled_at) VALUES ($1, $2, $3)
           ON CONFLICT (name) DO NOTHING RETURNING name`,
          [a.node, a.credentialHash, a.now],
        );
        const superseded = claimed.length === 0;
        if (superseded) {
          if (!a.allowSupersede) return { ok: false, reason: "node-exists" } as const;
          await q("UPDATE nodes SET credential_hash = $2, enrolled_at = $3 WHERE name = $1", [
            a.node,
            a.credentialHash,
            a.now,
          ]);
        }
        const spent = await q(
          `UPDATE tokens SET uses_left = uses_left - 1
           WHERE hash = $1 AND (uses_left IS NULL OR uses_left > 0) RETURNING hash`,
          [a.tokenHash],
        );
        if (spent.length === 0) throw new TokenSpent();
        await q("INSERT INTO enrollments (node, at, token_hash, superseded) VALUES ($1, $2, $3, $4)", [
          a.node,
          a.now,
          a.tokenHash,
          superseded ? 1 : 0,
        ]);
        return { ok: true, superseded } as const;
      });
    } catch (err) {
      if (err instanceof TokenSpent) return { ok: false, reason: "token-used" };
      throw err;
    }
  }

  async listTokens(): Promise<TokenRecord[]> {
    const rows = await this.db.query("SELECT * FROM tokens ORDER BY created_at, hash");
    return rows.map(tokenRecord);
  }

  revokeToken(hashPrefix: string, now: number): Promise<{ revoked: string[]; ambiguous: boolean }> {
    if (!/^[0-9a-f]{1,64}$/.test(hashPrefix)) return Promise.resolve({ revoked: [], ambiguous: false });
    return this.db.tx(async (q) => {
      const rows = await q("SELECT hash, kind FROM tokens WHERE hash LIKE $1", [`${hashPrefix}%`]);
      if (rows.length !== 1) return { revoked: [], ambiguous: rows.length > 1 };
      const hash = String(rows[0]?.hash);
      await deleteTokens(q, [hash], now);
      // Sessions do not record which admin token opened them: revoking one ends them all, so a
      // leaked token's dashboard session does not outlive it (the other admins log in again).
      if (rows[0]?.kind === "admin") await q("DELETE FROM sessions", []);
      return { revoked: [hash], ambiguous: false };
    });
  }

  revokeExpiredTokens(now: number): Promise<string[]> {
    return this.db.tx(async (q) => {
      const rows = await q(
        `SELECT hash FROM tokens WHERE (expires_at IS NOT NULL AND expires_at <= $1)
         OR (uses_left IS NOT NULL AND uses_left <= 0) ORDER BY hash`,
        [now],
      );
      const hashes = rows.map((r) => String(r.hash));
      await deleteTokens(q, hashes, now);
      return hashes;
    });
  }

  revokeNode(name: string, now: number): Promise<boolean> {
    return this.db.tx(async (q) => {
      // Not a sha256 in hex, so no secret hashes to it; unique per node and revocation.
      const marker = `revoked:${now}:${randomBytes(16).toString("hex")}`;
      const rows = await q("UPDATE nodes SET credential_hash = $2 WHERE name = $1 RETURNING name", [
        name,
        marker,
      ]);
      if (rows.length === 0) return false;
      await q("INSERT INTO revocations (at, kind, subject) VALUES ($1, $2, $3)", [now, "node", name]);
      return true;
    });
  }

  async revocations(limit: number): Promise<RevocationRecord[]> {
    const rows = await this.db.query(
      "SELECT at, kind, subject FROM revocations ORDER BY at DESC, subject LIMIT $1",
      [limit],
    );
    return rows.map((r) => ({
      at: num(r.at),
      kind: r.kind === "node" ? "node" : "token",
      subject: String(r.subject),
    }));
  }

  async nodeByCredential(credentialHash: string): Promise<string | undefined> {
    return (await this.authenticateNode(credentialHash))?.name;
  }

  authenticateNode(credentialHash: string): Promise<NodeIdentity | undefined> {
    return this.credentialLookup
      ? this.credentialLookup.get(credentialHash)
      : this.authenticateOne(credentialHash);
  }

  private async authenticateOne(credentialHash: string): Promise<NodeIdentity | undefined> {
    const [r] = await this.db.query(
      "SELECT name, catalog_serial, catalog_digest FROM nodes WHERE credential_hash = $1",
      [credentialHash],
    );
    if (!r) return undefined;
    return {
      name: String(r.name),
      catalogSerial: num(r.catalog_serial),
      catalogDigest: strOrNull(r.catalog_digest),
    };
  }

  async saveFacts(node: string, facts: Facts, now: number): Promise<void> {
    await this.db.query("UPDATE nodes SET facts = $2, last_seen = $3 WHERE name = $1", [
      node,
      JSON.stringify(facts),
      now,
    ]);
  }

  async knownFacts(): Promise<{ node: string; facts: Facts }[]> {
    // Not a revoked node's (see revokeNode's marker): the git gate must not judge commits by them.
    const rows = await this.db.query(
      "SELECT name, facts FROM nodes WHERE facts IS NOT NULL AND credential_hash NOT LIKE 'revoked:%' ORDER BY name",
    );
    return rows.map((r) => ({ node: String(r.name), facts: JSON.parse(String(r.facts)) as Facts }));
  }

  async catalogSerial(
    node: string,
    digest: string,
    known?: { serial: number; digest: string | null },
  ): Promise<number> {
    if (known?.digest === digest) return known.serial;
    if (!known) {
      const [cur] = await this.db.query("SELECT catalog_serial, catalog_digest FROM nodes WHERE name = $1", [
        node,
      ]);
      if (cur && cur.catalog_digest === digest) return num(cur.catalog_serial);
    }
    const [r] = await this.db.query(
      `UPDATE nodes SET catalog_serial = catalog_serial + 1, catalog_digest = $2
       WHERE name = $1 AND (catalog_digest IS NULL OR catalog_digest <> $2) RETURNING catalog_serial`,
      [node, digest],
    );
    if (r) return num(r.catalog_serial);
    const [again] = await this.db.query("SELECT catalog_serial FROM nodes WHERE name = $1", [node]);
    return num(again?.catalog_serial ?? 0);
  }

  saveCatalogFiles(digest: string, files: { sha: string; data: Buffer }[]): Promise<void> {
    return this.db.tx(async (q) => {
      for (const f of files) {
        await q("INSERT INTO blobs (sha, data) VALUES ($1, $2) ON CONFLICT (sha) DO NOTHING", [
          f.sha,
          f.data,
        ]);
        await q(
          "INSERT INTO catalog_files (digest, sha) VALUES ($1, $2) ON CONFLICT (digest, sha) DO NOTHING",
          [digest, f.sha],
        );
      }
    });
  }

  async nodeFile(node: string, sha: string): Promise<Buffer | undefined> {
    const [r] = await this.db.query(
      `SELECT b.data FROM nodes n JOIN catalog_files cf ON cf.digest = n.catalog_digest
       JOIN blobs b ON b.sha = cf.sha WHERE n.name = $1 AND cf.sha = $2`,
      [node, sha],
    );
    return r ? Buffer.from(r.data as Uint8Array) : undefined;
  }

  async listNodes(): Promise<NodeSummary[]> {
    const rows = await this.db.query(
      `SELECT n.name, n.enrolled_at, n.last_seen, n.last_report_id, n.last_report_at, n.last_status,
       n.last_commit, (SELECT COUNT(*) FROM report_resources rr
         WHERE rr.report_id = n.last_report_id AND rr.drifted = 1) AS drifted
       FROM nodes n ORDER BY n.name`,
    );
    return rows.map((r) => ({
      name: String(r.name),
      enrolled_at: num(r.enrolled_at),
      last_seen: numOrNull(r.last_seen),
      last_report_id: strOrNull(r.last_report_id),
      last_report_at: strOrNull(r.last_report_at),
      last_status: strOrNull(r.last_status),
      last_commit: strOrNull(r.last_commit),
      drifted: num(r.drifted),
    }));
  }

  async nodeExists(name: string): Promise<boolean> {
    return (await this.db.query("SELECT 1 AS one FROM nodes WHERE name = $1", [name])).length > 0;
  }

  saveReport(report: Report, receivedAt: number, body?: string): Promise<SaveReportOutcome> {
    const json = body ?? JSON.stringify(report);
    const kept = report.resources.filter(keptResource);
    if (this.reportGroups) return this.reportGroups.save({ report, receivedAt, body: json, kept });
    return this.db.tx(async (q) => {
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
        return prior?.node === report.node ? "duplicate" : "conflict";
      }
      // One prepared single-row INSERT, run once per kept resource inside the transaction.
      for (const r of kept) {
        await q(
          `INSERT INTO report_resources (report_id, node, resource, type, status, drifted, changes)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (report_id, resource) DO NOTHING`,
          [report.id, report.node, r.id, r.type, r.status, r.drifted ? 1 : 0, JSON.stringify(r.changes)],
        );
      }
      await q(
        `UPDATE nodes SET last_report_id = $2, last_report_at = $3, last_status = $4, last_commit = $5
         WHERE name = $1 AND (last_report_at IS NULL OR last_report_at <= $3)`,
        [report.node, report.id, report.started_at, report.status, report.commit],
      );
      return "stored";
    });
  }

  async nodeReports(node: string, limit: number): Promise<ReportSummary[]> {
    const rows = await this.db.query(
      `SELECT id, node, commit_sha, mode, status, started_at, duration_ms, received_at FROM reports
       WHERE node = $1 ORDER BY started_at DESC, received_at DESC LIMIT $2`,
      [node, limit],
    );
    return rows.map(reportSummary);
  }

  async getReport(id: string): Promise<Report | undefined> {
    const [r] = await this.db.query("SELECT body FROM reports WHERE id = $1", [id]);
    return r ? (JSON.parse(String(r.body)) as Report) : undefined;
  }

  async drift(): Promise<DriftRow[]> {
    const rows = await this.db.query(
      `SELECT r.node, r.id, r.commit_sha, r.started_at, rr.resource, rr.type, rr.status, rr.changes
       FROM nodes n JOIN reports r ON r.id = n.last_report_id
       JOIN report_resources rr ON rr.report_id = r.id AND rr.drifted = 1
       ORDER BY r.node, rr.resource`,
    );
    return rows.map((r) => ({
      node: String(r.node),
      report_id: String(r.id),
      commit: strOrNull(r.commit_sha),
      started_at: String(r.started_at),
      resource: String(r.resource),
      type: String(r.type),
      status: String(r.status),
      changes: JSON.parse(String(r.changes)),
    }));
  }

  pruneReports(before: number): Promise<number> {
    return this.db.tx(async (q) => {
      const old = `SELECT id FROM reports WHERE received_at < $1 AND id NOT IN
        (SELECT last_report_id FROM nodes WHERE last_report_id IS NOT NULL)`;
      await q(`DELETE FROM report_resources WHERE report_id IN (${old})`, [before]);
      return (await q(`DELETE FROM reports WHERE id IN (${old}) RETURNING id`, [before])).length;
    });
  }

  async nodesByStatus(): Promise<Record<string, number>> {
    const rows = await this.db.query(
      "SELECT COALESCE(last_status, 'none') AS status, COUNT(*) AS n FROM nodes GROUP BY COALESCE(last_status, 'none')",
    );
    return Object.fromEntries(rows.map((r) => [String(r.status), num(r.n)]));
  }

  async recordCommit(c: CommitRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO commits (sha, valid, problems, seen_at, summary) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (sha) DO NOTHING`,
      [c.sha, c.valid ? 1 : 0, JSON.stringify(c.problems), c.seen_at, c.summary],
    );
  }

  async getCommit(sha: string): Promise<CommitRecord | undefined> {
    const [r] = await this.db.query("SELECT * FROM commits WHERE sha = $1", [sha]);
    return r ? commitRecord(r) : undefined;
  }

  async listCommits(limit: number): Promise<CommitRecord[]> {
    const rows = await this.db.query("SELECT * FROM commits ORDER BY seen_at DESC LIMIT $1", [limit]);
    return rows.map(commitRecord);
  }

  async liveCommit(): Promise<string | null> {
    const [r] = await this.db.query("SELECT value FROM state WHERE key = 'live_commit'");
    return r ? String(r.value) : null;
  }

  async setLiveCommit(sha: string): Promise<void> {
    await this.db.query(
      `INSERT INTO state (key, value) VALUES ('live_commit', $1)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [sha],
    );
  }

  async recordDuplicateIdentity(alert: DuplicateIdentity): Promise<void> {
    await this.db.query(
      `INSERT INTO state (key, value) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [`duplicate:${alert.node}`, JSON.stringify(alert)],
    );
  }

  async duplicateIdentities(): Promise<DuplicateIdentity[]> {
    // An alert ends when its node is re-enrolled (enrolled_at moves past it) or revoked.
    const rows = await this.db.query(
      `SELECT s.value, n.enrolled_at FROM state s JOIN nodes n ON s.key = 'duplicate:' || n.name
       WHERE n.credential_hash NOT LIKE 'revoked:%'`,
    );
    return rows
      .map((r) => ({ alert: JSON.parse(String(r.value)) as DuplicateIdentity, enrolled: num(r.enrolled_at) }))
      .filter((x) => x.alert.at >= x.enrolled)
      .map((x) => x.alert)
      .sort((a, b) => b.at - a.at);
  }

  withIngestLock<T>(fn: () => Promise<T>): Promise<T | undefined> {
    return this.db.tryLock("ingest", fn);
  }
}

/**
 * Which resources of a report get a row in report_resources: those the drift and dashboard
 * queries count (drifted, changed, would-change, failed, skipped, unknown). A plain `unchanged`
 * resource that did not drift gets none; every resource stays in the report's body
 * (`GET /reports/ID`). Most runs change nothing, so this is most rows of most reports.
 */
export function keptResource(r: Report["resources"][number]): boolean {
  return r.drifted || r.status !== "unchanged";
}

/** Thrown inside the enrolment transaction to roll it back: the token was spent meanwhile. */
class TokenSpent extends Error {}

/** The id a token is shown and revoked by: the first 12 hex digits of its hash. */
export const tokenId = (hash: string): string => hash.slice(0, 12);

async function deleteTokens(q: Query, hashes: string[], now: number): Promise<void> {
  for (const hash of hashes) {
    await q("DELETE FROM tokens WHERE hash = $1", [hash]);
    await q("INSERT INTO revocations (at, kind, subject) VALUES ($1, $2, $3)", [now, "token", tokenId(hash)]);
  }
}

function tokenRecord(r: Row): TokenRecord {
  return {
    hash: String(r.hash),
    kind: r.kind === "admin" ? "admin" : "enroll",
    created_at: num(r.created_at),
    expires_at: numOrNull(r.expires_at),
    uses_left: numOrNull(r.uses_left),
    node_glob: strOrNull(r.node_glob),
    reenroll: num(r.reenroll) === 1,
  };
}

function reportSummary(r: Row): ReportSummary {
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

function commitRecord(r: Row): CommitRecord {
  return {
    sha: String(r.sha),
    valid: num(r.valid) === 1,
    problems: JSON.parse(String(r.problems)),
    seen_at: num(r.seen_at),
    summary: String(r.summary),
  };
}
