/**
 * PostgreSQL, for several server processes behind a load balancer. Connection failures become
 * `StorageUnavailable` (503 with Retry-After) and the pool reconnects by itself; the ingest lock
 * is a session advisory lock, so one server ingests a commit while the others wait for its result.
 */
import pg from "pg";
import type { Driver, Query, Row } from "./driver.js";
import { SqlStorage } from "./sql.js";
import { StorageUnavailable } from "./types.js";

/** SQLSTATE classes and errno codes that mean "the database is not there", not "your SQL is wrong". */
function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== "string") return /timeout|terminat|Connection/i.test(String((err as Error)?.message));
  return (
    /^(08|57P|53)/.test(code) || /^E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NOTFOUND)$/.test(code)
  );
}

function wrap(err: unknown): unknown {
  return isConnectionError(err) ? new StorageUnavailable(err) : err;
}

const lockKeys: Record<string, number> = { ingest: 74201, migrate: 74200, "alert-sweep": 74202 };

/**
 * Advisory locks are per database, not per schema: the locks of tend servers sharing a database
 * under different schemas (or test runs side by side) take the schema's own key space, so one's
 * commit ingest never makes the other wait for a verdict it will never write (a 32-bit FNV-1a).
 */
export function lockSpace(schema: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < schema.length; i++) h = Math.imul(h ^ schema.charCodeAt(i), 0x01000193);
  return h | 0;
}

const statementNames = new Map<string, string>();

/**
 * A query as a named prepared statement: parsed and planned once per connection, then only
 * bound and executed (the catalog poll and report ingest run the same few statements all day).
 * DDL and other one-off statements stay unnamed.
 */
function prepared(sql: string, params: unknown[] | undefined): pg.QueryConfig {
  if (!/^\s*(SELECT|INSERT|UPDATE|DELETE)\b/i.test(sql)) return { text: sql, values: params };
  let name = statementNames.get(sql);
  if (!name) {
    name = `tend_${statementNames.size}`;
    statementNames.set(sql, name);
  }
  return { name, text: sql, values: params };
}

class PostgresDriver implements Driver {
  readonly kind = "postgres" as const;

  constructor(
    private readonly pool: pg.Pool,
    /** The first key of every advisory lock: the schema's (lockSpace). */
    private readonly space: number,
  ) {}

  query: Query = async (sql, params) => {
    try {
      return (await this.pool.query(prepared(sql, params))).rows as Row[];
    } catch (err) {
      throw wrap(err);
    }
  };

  async tx<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw wrap(err);
    }
    let broken = false;
    try {
      await client.query("BEGIN");
      const result = await fn(
        async (sql, params) => (await client.query(prepared(sql, params))).rows as Row[],
      );
      await client.query("COMMIT");
      return result;
    } catch (err) {
      broken = isConnectionError(err);
      if (!broken) await client.query("ROLLBACK").catch(() => undefined);
      throw wrap(err);
    } finally {
      client.release(broken ? true : undefined);
    }
  }

  async migrate(statements: string[]): Promise<void> {
    await this.tx(async (q) => {
      await q("SELECT pg_advisory_xact_lock($1, $2)", [this.space, lockKeys.migrate]);
      for (const s of statements) await q(s);
    });
  }

  async tryLock<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw wrap(err);
    }
    const key = lockKeys[name] ?? 74299;
    try {
      const [r] = (await client.query("SELECT pg_try_advisory_lock($1, $2) AS ok", [this.space, key])).rows;
      if (!r?.ok) return undefined;
      try {
        return await fn();
      } finally {
        await client.query("SELECT pg_advisory_unlock($1, $2)", [this.space, key]);
      }
    } catch (err) {
      throw wrap(err);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export interface PostgresOptions {
  url: string;
  /** A schema to keep tend's tables in (created when missing); default `public`. */
  schema?: string;
  max?: number;
}

export async function openPostgres(opts: PostgresOptions): Promise<SqlStorage> {
  const schema = opts.schema ?? "public";
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid PostgreSQL schema name "${schema}"`);
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 30_000,
    options: `-c search_path=${schema}`,
  });
  pool.on("error", () => undefined); // an idle client lost its connection; the next query reconnects
  if (schema !== "public") {
    try {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } catch (err) {
      // Two servers creating the schema at once: the loser sees a unique violation.
      if ((err as { code?: string }).code !== "23505") {
        await pool.end();
        throw wrap(err);
      }
    }
  }
  const storage = new SqlStorage(new PostgresDriver(pool, lockSpace(schema)));
  await storage.init();
  return storage;
}
