/**
 * The little a SQL database must do for `SqlStorage`: run a statement with `$1`-style parameters,
 * run a function in a transaction, and hold a cross-process lock. sqlite.ts and postgres.ts
 * implement it.
 */
export type Row = Record<string, unknown>;
export type Query = (sql: string, params?: unknown[]) => Promise<Row[]>;

export interface Driver {
  readonly kind: "sqlite" | "postgres";
  query: Query;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  tx<T>(fn: (q: Query) => Promise<T>): Promise<T>;
  /** Runs the DDL statements once, even when several servers start together. */
  migrate(statements: string[]): Promise<void>;
  /** Runs `fn` while holding the named lock, or returns undefined at once if another holds it. */
  tryLock<T>(name: string, fn: () => Promise<T>): Promise<T | undefined>;
  close(): Promise<void>;
}

/** The tables; portable between SQLite and PostgreSQL (booleans are 0/1 integers). */
export const schemaStatements = [
  `CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, kind TEXT NOT NULL,
    created_at BIGINT NOT NULL, expires_at BIGINT, uses_left INTEGER, node_glob TEXT,
    reenroll INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS nodes (name TEXT PRIMARY KEY, credential_hash TEXT NOT NULL UNIQUE,
    enrolled_at BIGINT NOT NULL, last_seen BIGINT, facts TEXT, catalog_digest TEXT,
    catalog_serial BIGINT NOT NULL DEFAULT 0, last_report_id TEXT, last_report_at TEXT,
    last_status TEXT, last_commit TEXT)`,
  `CREATE TABLE IF NOT EXISTS enrollments (node TEXT NOT NULL, at BIGINT NOT NULL,
    token_hash TEXT NOT NULL, superseded INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS reports (id TEXT PRIMARY KEY, node TEXT NOT NULL, commit_sha TEXT,
    mode TEXT NOT NULL, status TEXT NOT NULL, started_at TEXT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL, received_at BIGINT NOT NULL, body TEXT NOT NULL)`,
  "CREATE INDEX IF NOT EXISTS reports_node ON reports (node, started_at)",
  "CREATE INDEX IF NOT EXISTS reports_received ON reports (received_at)",
  `CREATE TABLE IF NOT EXISTS report_resources (report_id TEXT NOT NULL, node TEXT NOT NULL,
    resource TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL, drifted INTEGER NOT NULL,
    changes TEXT NOT NULL, PRIMARY KEY (report_id, resource))`,
  "CREATE INDEX IF NOT EXISTS report_resources_drift ON report_resources (report_id) WHERE drifted = 1",
  `CREATE TABLE IF NOT EXISTS commits (sha TEXT PRIMARY KEY, valid INTEGER NOT NULL,
    problems TEXT NOT NULL, seen_at BIGINT NOT NULL, summary TEXT NOT NULL)`,
  "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
  // File contents too large to inline in a catalog, by sha256 (BYTEA: a BLOB to SQLite too).
  "CREATE TABLE IF NOT EXISTS blobs (sha TEXT PRIMARY KEY, data BYTEA NOT NULL)",
  // Large file contents (over STREAM_FILE_BYTES) are not copied here: the sha256 names the git blob
  // holding the bytes in the recipe repository, which the server streams from its mirror.
  "CREATE TABLE IF NOT EXISTS git_blobs (sha TEXT PRIMARY KEY, blob TEXT NOT NULL, size BIGINT NOT NULL)",
  // Which fetched files each catalog (by digest) references: a node may fetch exactly those of the
  // catalog it was last served (nodes.catalog_digest), from any server, after any restart.
  `CREATE TABLE IF NOT EXISTS catalog_files (digest TEXT NOT NULL, sha TEXT NOT NULL,
    PRIMARY KEY (digest, sha))`,
  // Which commits each node was served a catalog from: a report naming another is not trusted.
  `CREATE TABLE IF NOT EXISTS served_commits (node TEXT NOT NULL, commit_sha TEXT NOT NULL,
    first_at BIGINT NOT NULL, PRIMARY KEY (node, commit_sha))`,
  // `tend server token revoke` and `tend server node revoke`, for the record.
  `CREATE TABLE IF NOT EXISTS revocations (at BIGINT NOT NULL, kind TEXT NOT NULL,
    subject TEXT NOT NULL)`,
];
