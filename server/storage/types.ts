/**
 * The server's state, behind one interface with two implementations (sqlite.ts, postgres.ts) that
 * share their SQL (sql.ts, sql/, ui.ts). Times are epoch milliseconds. Every method may throw
 * `StorageUnavailable` when the database cannot be reached; the API turns that into 503.
 */
import type { Problem } from "../../core/errors.js";
import type { Facts, Report } from "../../core/types.js";
import type { DuplicateIdentity } from "../duplicates.js";
import type { Role } from "../roles.js";
import type { RolloutStorage } from "../rollouts/types.js";
import type { AlertStorage } from "./alert-types.js";
import type { UiStorage } from "./ui-types.js";

export type TokenKind = "enroll" | "admin";

export interface TokenRecord {
  /** sha256 (hex) of the token; the token itself is never stored. */
  hash: string;
  kind: TokenKind;
  created_at: number;
  /** null: never expires (admin tokens by default). */
  expires_at: number | null;
  /** null: unlimited. */
  uses_left: number | null;
  /** A picomatch glob the enrolling node's name must match; null: any name. */
  node_glob: string | null;
  /** Whether the token may re-enrol a name that already has a credential (superseding it). */
  reenroll: boolean;
  /** An admin token's role (server/roles.ts); tokens made before roles existed are admins. */
  role: Role;
}

/** A token as created: an admin token's role defaults to admin. */
export type NewToken = Omit<TokenRecord, "role"> & { role?: Role };

/** A named account of the dashboard. */
export interface UserRecord {
  name: string;
  role: Role;
  /** `scrypt$N$r$p$salt$hash` (server/passwords.ts); never the password. */
  password_hash: string;
  created_at: number;
  changed_at: number;
}

/** One line of the audit log: who did what, to which nodes, when and from which address. */
export interface AuditEntry {
  id: number;
  at: number;
  /** `user:alice`, `token:0a1b2c3d4e5f`, `oidc:alice@example.com`, `cli:root`, `webhook:git` (server/roles.ts). */
  actor: string;
  role: string;
  /** What was done: `node.revoke`, `token.create`, `nodes.run`, ... (docs/server.md lists them). */
  action: string;
  nodes: string[];
  /** What else says what happened (a token's id, a commit, a count); never a secret. */
  details: Record<string, unknown>;
  /** The client's address (through `behind_tls_proxy`'s one hop); null for the CLI. */
  address: string | null;
}

export interface AuditQuery {
  limit: number;
  /** Entries older than this id (paging back). */
  before?: number;
  action?: string;
}

/** What a node credential opens: the node's name and its catalog's current serial and digest. */
export interface NodeIdentity {
  name: string;
  catalogSerial: number;
  catalogDigest: string | null;
}

export type EnrollOutcome =
  | { ok: true; superseded: boolean }
  | { ok: false; reason: "token-used" | "node-exists" };

export interface NodeSummary {
  name: string;
  enrolled_at: number;
  last_seen: number | null;
  last_report_id: string | null;
  last_report_at: string | null;
  last_status: string | null;
  last_commit: string | null;
  drifted: number;
}

export interface ReportSummary {
  id: string;
  node: string;
  commit: string | null;
  mode: string;
  status: string;
  started_at: string;
  duration_ms: number;
  received_at: number;
}

export interface DriftRow {
  node: string;
  report_id: string;
  commit: string | null;
  started_at: string;
  resource: string;
  type: string;
  status: string;
  changes: unknown;
}

export interface CommitRecord {
  sha: string;
  valid: boolean;
  problems: Problem[];
  seen_at: number;
  summary: string;
  /** The branch it was judged on, when not the default environment's (docs/environments.md). */
  branch?: string;
}

/** The environment a node was last served, what it asked for, and why it did not get it. */
export interface NodeEnvironment {
  /** The branch whose live commit its catalog was compiled from. */
  environment: string;
  /** What the agent asked for (`--environment`, `environment:`), null when nothing. */
  requested: string | null;
  /** Why the node is not where it asked to be, or not where nodes.yaml puts it; null when it is. */
  note: string | null;
  at: number;
}

export type SaveReportOutcome = "stored" | "duplicate" | "conflict";

export interface RevocationRecord {
  at: number;
  kind: "token" | "node";
  /** A token's id (the first 12 hex digits of its hash) or a node's name. */
  subject: string;
}

/** A push signal as recorded (server/push/signals.ts): who it was for, what it asks. */
export interface SignalRecord {
  id: number;
  at: number;
  kind: "run" | "noop" | "commit";
  /** A picomatch glob on node names, or null when `nodes` lists them. */
  glob: string | null;
  nodes: string[] | null;
  /** For `commit`: the commit made live. */
  commit: string | null;
  /** Agents start their run at a random moment in [0, spreadMs) after the signal. */
  spreadMs: number;
}

export interface Storage {
  readonly kind: "sqlite" | "postgres";
  /** Sessions and the dashboard's page queries (server/ui/). */
  readonly ui: UiStorage;
  /** Alert conditions and the outbox of their events (server/alerts/). */
  readonly alerts: AlertStorage;
  /** Rollouts: waves and per-node progress (server/rollouts/). */
  readonly rollouts: RolloutStorage;
  /** Creates or upgrades the tables. */
  init(): Promise<void>;
  close(): Promise<void>;
  ping(): Promise<void>;

  createToken(token: NewToken): Promise<void>;
  getToken(hash: string): Promise<TokenRecord | undefined>;
  /** In one transaction: spends one use of the token and gives `node` the credential. */
  enroll(args: {
    tokenHash: string;
    node: string;
    credentialHash: string;
    now: number;
    allowSupersede: boolean;
  }): Promise<EnrollOutcome>;
  /** Every enrolment and admin token (hashes only), oldest first. */
  listTokens(): Promise<TokenRecord[]>;
  /**
   * Deletes the tokens whose hash starts with `hashPrefix` (lower-case hex) and records it; refuses
   * (deleting nothing) when the prefix matches more than one. Returns the hashes deleted.
   */
  revokeToken(hashPrefix: string, now: number): Promise<{ revoked: string[]; ambiguous: boolean }>;
  /** Deletes the tokens expired at `now` or with no uses left, recorded; returns their hashes. */
  revokeExpiredTokens(now: number): Promise<string[]>;
  /**
   * Invalidates the node's credential at once (its next request is a 401 on every server sharing
   * the database) and records it; its reports stay. Re-enrolling the name then needs a token made
   * with --reenroll. False when no such node is enrolled.
   */
  revokeNode(name: string, now: number): Promise<boolean>;
  /** The revocations recorded, newest first. */
  revocations(limit: number): Promise<RevocationRecord[]>;
  nodeByCredential(credentialHash: string): Promise<string | undefined>;
  /** The node a credential opens, with its catalog state: one read serves auth and the serial. */
  authenticateNode(credentialHash: string): Promise<NodeIdentity | undefined>;
  /** Remembers the node's latest facts (the git gate compiles every known node with them). */
  saveFacts(node: string, facts: Facts, now: number): Promise<void>;
  knownFacts(): Promise<{ node: string; facts: Facts }[]>;
  /**
   * The serial for this catalog digest: unchanged if the digest is the node's last, else one more.
   * `known` (from `authenticateNode` in the same request) saves reading the node again.
   */
  catalogSerial(
    node: string,
    digest: string,
    known?: { serial: number; digest: string | null },
  ): Promise<number>;
  /**
   * Stores the contents a catalog leaves out (by sha256; a large one as the git blob holding it)
   * and that the catalog references them.
   */
  saveCatalogFiles(digest: string, files: CatalogFileRow[]): Promise<void>;
  /** A file's bytes (or the git blob holding them), only when the catalog `node` was last served references it. */
  nodeFile(node: string, sha: string): Promise<NodeFile | undefined>;
  /** Notes that `node` was served a catalog compiled from `commit` (idempotent). */
  recordServedCommit(node: string, commit: string, at: number): Promise<void>;
  /** Whether `node` was ever served a catalog compiled from `commit`. */
  servedCommit(node: string, commit: string): Promise<boolean>;
  listNodes(): Promise<NodeSummary[]>;
  nodeExists(name: string): Promise<boolean>;

  /**
   * Stores the report in one transaction, idempotent on its id; settles only after COMMIT.
   * `body`: the report's JSON exactly as received (stored as is for `GET /reports/ID`, saving a
   * re-serialisation); default `JSON.stringify(report)`. Resource rows are kept only for the
   * resources queries count (see `keptResource` in sql/reports.ts): not for plain unchanged ones.
   */
  saveReport(report: Report, receivedAt: number, body?: string): Promise<SaveReportOutcome>;
  nodeReports(node: string, limit: number): Promise<ReportSummary[]>;
  getReport(id: string): Promise<Report | undefined>;
  drift(): Promise<DriftRow[]>;
  /** Deletes reports received before `before`, except each node's latest. Returns how many. */
  pruneReports(before: number): Promise<number>;
  nodesByStatus(): Promise<Record<string, number>>;

  /**
   * Commit verdicts and live commits, per branch: `branch` undefined (or `commit.branch`) is the
   * default environment's, any other is that branch's (sql/commits.ts).
   */
  recordCommit(commit: CommitRecord): Promise<void>;
  getCommit(sha: string, branch?: string): Promise<CommitRecord | undefined>;
  listCommits(limit: number, branch?: string): Promise<CommitRecord[]>;
  liveCommit(branch?: string): Promise<string | null>;
  setLiveCommit(sha: string, branch?: string): Promise<void>;
  /** Every branch but the default one that has a live commit (branch → sha). */
  branchLives(): Promise<Map<string, string>>;
  /** A branch deleted from git: forgets its live commit, keeps its verdicts. */
  dropBranch(branch: string): Promise<void>;
  /** Each node's environment as last served (sql/environments.ts). */
  nodeEnvironments(): Promise<Map<string, NodeEnvironment>>;
  nodeEnvironment(node: string): Promise<NodeEnvironment | undefined>;
  setNodeEnvironment(node: string, e: NodeEnvironment): Promise<void>;
  /** Records (replacing the node's previous one) a duplicate-identity alert (TRUST I1). */
  recordDuplicateIdentity(alert: DuplicateIdentity): Promise<void>;
  /** Duplicate-identity alerts of nodes not re-enrolled since, newest first. */
  duplicateIdentities(): Promise<DuplicateIdentity[]>;
  /** Replaces a commit's verdict (a re-check judged it again). */
  updateCommit(commit: CommitRecord): Promise<void>;

  /** A new account; false when the name is taken. */
  createUser(user: UserRecord): Promise<boolean>;
  getUser(name: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /** Changes an account's role and/or password (which ends its sessions); false when unknown. */
  updateUser(name: string, change: { role?: Role; password_hash?: string }, now: number): Promise<boolean>;
  /** Removes an account and ends its sessions; false when unknown. */
  removeUser(name: string): Promise<boolean>;

  /** Appends to the audit log (there is no way to change or delete an entry); returns its id. */
  appendAudit(entry: Omit<AuditEntry, "id">): Promise<number>;
  readAudit(query: AuditQuery): Promise<AuditEntry[]>;

  /** Records a push signal; returns its id (ids only grow). */
  recordSignal(signal: Omit<SignalRecord, "id">): Promise<number>;
  /** Signals with an id above `after`, sent at `since` or later, oldest first (at most 1,000). */
  signalsAfter(after: number, since: number): Promise<SignalRecord[]>;
  getSignal(id: number): Promise<SignalRecord | undefined>;
  /** The highest signal id so far (0: none yet). */
  lastSignalId(): Promise<number>;
  pruneSignals(before: number): Promise<void>;
  /** Enrolled, not revoked nodes, by name. */
  signalableNodes(): Promise<string[]>;
  /** Which of these credential hashes still open a node (not revoked, not superseded). */
  validCredentials(hashes: string[]): Promise<Set<string>>;
  /** Runs `fn` only if no other server holds the ingest lock; undefined when it was held. */
  withIngestLock<T>(fn: () => Promise<T>): Promise<T | undefined>;
}

/** The database cannot be reached (PostgreSQL down, failing over): the API answers 503. */
export class StorageUnavailable extends Error {
  constructor(cause: unknown) {
    super(`the database is unavailable: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = "StorageUnavailable";
  }
}

/**
 * A file a catalog leaves out: its bytes (kept in the database), or, for a large one, the git blob
 * of the recipe repository that holds them (streamed from the mirror, never copied).
 */
export type CatalogFileRow = { sha: string; data: Buffer } | { sha: string; gitBlob: string; size: number };

/** What `nodeFile` finds: the bytes, or where in git they are. */
export type NodeFile = { data: Buffer } | { gitBlob: string; size: number };
