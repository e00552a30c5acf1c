/**
 * `Storage` in portable SQL over a `Driver`: the one implementation both databases share. The SQL
 * of each area is in sql/ (tokens, nodes, catalogs, reports, commits); rows become objects in
 * rows.ts. What differs by database is chosen here: PostgreSQL batches the credential lookups of
 * one turn and stores reports in groups, SQLite does neither (its driver groups transactions).
 */
import type { Facts, Report } from "../../core/types.js";
import { wantedKinds } from "../alerts/detect.js";
import type { DuplicateIdentity } from "../duplicates.js";
import type { Role } from "../roles.js";
import { SqlAlertStorage } from "./alerts.js";
import { BatchedLookup } from "./batched-lookup.js";
import type { Driver } from "./driver.js";
import { migrate } from "./migrate.js";
import { PostgresReportGroups } from "./pg-reports.js";
import * as audit from "./sql/audit.js";
import * as catalogs from "./sql/catalogs.js";
import * as commits from "./sql/commits.js";
import * as environments from "./sql/environments.js";
import * as nodes from "./sql/nodes.js";
import * as reports from "./sql/reports.js";
import { SqlRolloutStorage } from "./sql/rollouts.js";
import * as signals from "./sql/signals.js";
import * as tokens from "./sql/tokens.js";
import * as users from "./sql/users.js";
import type {
  AuditEntry,
  AuditQuery,
  CatalogFileRow,
  CommitRecord,
  DriftRow,
  EnrollOutcome,
  NewToken,
  NodeEnvironment,
  NodeFile,
  NodeIdentity,
  NodeSummary,
  ReportSummary,
  RevocationRecord,
  SaveReportOutcome,
  SignalRecord,
  Storage,
  TokenRecord,
  UserRecord,
} from "./types.js";
import { SqlUiStorage } from "./ui.js";

export class SqlStorage implements Storage {
  readonly kind: "sqlite" | "postgres";
  readonly ui: SqlUiStorage;
  readonly alerts: SqlAlertStorage;
  readonly rollouts: SqlRolloutStorage;
  /** PostgreSQL: reports stored in groups, one statement per group (see pg-reports.ts). */
  readonly reportGroups: PostgresReportGroups | undefined;
  private readonly credentialLookup: BatchedLookup<NodeIdentity> | undefined;

  constructor(private readonly db: Driver) {
    this.kind = db.kind;
    this.ui = new SqlUiStorage(db);
    this.alerts = new SqlAlertStorage(db);
    this.rollouts = new SqlRolloutStorage(db);
    // SQLite groups in its driver (several transactions under one COMMIT).
    this.reportGroups = db.kind === "postgres" ? new PostgresReportGroups(db.query) : undefined;
    // PostgreSQL: the credential lookups of one turn in one query (a round trip each otherwise).
    this.credentialLookup =
      db.kind === "postgres"
        ? new BatchedLookup((hashes) => nodes.authenticateMany(this.db, hashes))
        : undefined;
  }

  init(): Promise<void> {
    return migrate(this.db);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async ping(): Promise<void> {
    await this.db.query("SELECT 1 AS one");
  }

  createToken(t: NewToken): Promise<void> {
    return tokens.createToken(this.db, t);
  }

  getToken(hash: string): Promise<TokenRecord | undefined> {
    return tokens.getToken(this.db, hash);
  }

  listTokens(): Promise<TokenRecord[]> {
    return tokens.listTokens(this.db);
  }

  revokeToken(hashPrefix: string, now: number): Promise<{ revoked: string[]; ambiguous: boolean }> {
    return tokens.revokeToken(this.db, hashPrefix, now);
  }

  revokeExpiredTokens(now: number): Promise<string[]> {
    return tokens.revokeExpiredTokens(this.db, now);
  }

  revocations(limit: number): Promise<RevocationRecord[]> {
    return tokens.revocations(this.db, limit);
  }

  enroll(a: Parameters<Storage["enroll"]>[0]): Promise<EnrollOutcome> {
    return nodes.enroll(this.db, a);
  }

  revokeNode(name: string, now: number): Promise<boolean> {
    return nodes.revokeNode(this.db, name, now);
  }

  async nodeByCredential(credentialHash: string): Promise<string | undefined> {
    return (await this.authenticateNode(credentialHash))?.name;
  }

  authenticateNode(credentialHash: string): Promise<NodeIdentity | undefined> {
    return this.credentialLookup
      ? this.credentialLookup.get(credentialHash)
      : nodes.authenticateOne(this.db, credentialHash);
  }

  saveFacts(node: string, facts: Facts, now: number): Promise<void> {
    return nodes.saveFacts(this.db, node, facts, now);
  }

  knownFacts(): Promise<{ node: string; facts: Facts }[]> {
    return nodes.knownFacts(this.db);
  }

  listNodes(): Promise<NodeSummary[]> {
    return nodes.listNodes(this.db);
  }

  nodeExists(name: string): Promise<boolean> {
    return nodes.nodeExists(this.db, name);
  }

  recordDuplicateIdentity(alert: DuplicateIdentity): Promise<void> {
    return nodes.recordDuplicateIdentity(this.db, alert);
  }

  duplicateIdentities(): Promise<DuplicateIdentity[]> {
    return nodes.duplicateIdentities(this.db);
  }

  catalogSerial(
    node: string,
    digest: string,
    known?: { serial: number; digest: string | null },
  ): Promise<number> {
    return catalogs.catalogSerial(this.db, node, digest, known);
  }

  saveCatalogFiles(digest: string, files: CatalogFileRow[]): Promise<void> {
    return catalogs.saveCatalogFiles(this.db, digest, files);
  }

  nodeFile(node: string, sha: string): Promise<NodeFile | undefined> {
    return catalogs.nodeFile(this.db, node, sha);
  }

  recordServedCommit(node: string, commit: string, at: number): Promise<void> {
    return catalogs.recordServedCommit(this.db, node, commit, at);
  }

  servedCommit(node: string, commit: string): Promise<boolean> {
    return catalogs.servedCommit(this.db, node, commit);
  }

  async saveReport(report: Report, receivedAt: number, body?: string): Promise<SaveReportOutcome> {
    const json = body ?? JSON.stringify(report);
    const kept = report.resources.filter(reports.keptResource);
    if (this.reportGroups) {
      const want = wantedKinds(report);
      const saved = await this.reportGroups.save({ report, receivedAt, body: json, kept, want });
      // Its conditions change: in a transaction of their own, before the report is acknowledged
      // (should the server stop in between, the sweeper settles it: `alert_report` says it is not).
      if (saved.unsettled) await this.alerts.settle(report, receivedAt);
      return saved.outcome;
    }
    const saved = await reports.saveReport(this.db, report, receivedAt, json, kept, (q) =>
      this.alerts.settleIn(q, report, receivedAt),
    );
    this.alerts.notify(saved.written);
    return saved.outcome;
  }

  nodeReports(node: string, limit: number): Promise<ReportSummary[]> {
    return reports.nodeReports(this.db, node, limit);
  }

  getReport(id: string): Promise<Report | undefined> {
    return reports.getReport(this.db, id);
  }

  drift(): Promise<DriftRow[]> {
    return reports.drift(this.db);
  }

  pruneReports(before: number): Promise<number> {
    return reports.pruneReports(this.db, before);
  }

  nodesByStatus(): Promise<Record<string, number>> {
    return reports.nodesByStatus(this.db);
  }

  recordCommit(c: CommitRecord): Promise<void> {
    return commits.recordCommit(this.db, c);
  }

  getCommit(sha: string, branch?: string): Promise<CommitRecord | undefined> {
    return commits.getCommit(this.db, sha, branch);
  }

  listCommits(limit: number, branch?: string): Promise<CommitRecord[]> {
    return commits.listCommits(this.db, limit, branch);
  }

  liveCommit(branch?: string): Promise<string | null> {
    return commits.liveCommit(this.db, branch);
  }

  setLiveCommit(sha: string, branch?: string): Promise<void> {
    return commits.setLiveCommit(this.db, sha, branch);
  }

  branchLives(): Promise<Map<string, string>> {
    return commits.branchLives(this.db);
  }

  dropBranch(branch: string): Promise<void> {
    return commits.dropBranch(this.db, branch);
  }

  nodeEnvironments(): Promise<Map<string, NodeEnvironment>> {
    return environments.nodeEnvironments(this.db);
  }

  nodeEnvironment(node: string): Promise<NodeEnvironment | undefined> {
    return environments.nodeEnvironment(this.db, node);
  }

  setNodeEnvironment(node: string, e: NodeEnvironment): Promise<void> {
    return environments.setNodeEnvironment(this.db, node, e);
  }

  updateCommit(c: CommitRecord): Promise<void> {
    return commits.updateCommit(this.db, c);
  }

  createUser(u: UserRecord): Promise<boolean> {
    return users.createUser(this.db, u);
  }

  getUser(name: string): Promise<UserRecord | undefined> {
    return users.getUser(this.db, name);
  }

  listUsers(): Promise<UserRecord[]> {
    return users.listUsers(this.db);
  }

  updateUser(name: string, change: { role?: Role; password_hash?: string }, now: number): Promise<boolean> {
    return users.updateUser(this.db, name, change, now);
  }

  removeUser(name: string): Promise<boolean> {
    return users.removeUser(this.db, name);
  }

  appendAudit(entry: Omit<AuditEntry, "id">): Promise<number> {
    return audit.appendAudit(this.db, entry);
  }

  readAudit(q: AuditQuery): Promise<AuditEntry[]> {
    return audit.readAudit(this.db, q);
  }

  recordSignal(signal: Omit<SignalRecord, "id">): Promise<number> {
    return signals.recordSignal(this.db, signal);
  }

  signalsAfter(after: number, since: number): Promise<SignalRecord[]> {
    return signals.signalsAfter(this.db, after, since);
  }

  getSignal(id: number): Promise<SignalRecord | undefined> {
    return signals.getSignal(this.db, id);
  }

  lastSignalId(): Promise<number> {
    return signals.lastSignalId(this.db);
  }

  pruneSignals(before: number): Promise<void> {
    return signals.pruneSignals(this.db, before);
  }

  signalableNodes(): Promise<string[]> {
    return signals.signalableNodes(this.db);
  }

  validCredentials(hashes: string[]): Promise<Set<string>> {
    return signals.validCredentials(this.db, hashes);
  }

  withIngestLock<T>(fn: () => Promise<T>): Promise<T | undefined> {
    return this.db.tryLock("ingest", fn);
  }
}
