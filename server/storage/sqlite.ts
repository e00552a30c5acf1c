/**
 * SQLite, the default: one file in data_dir, WAL, a 5 s busy timeout, file mode 0600. Statements
 * run synchronously; a small mutex keeps other requests' statements out of an open transaction.
 */
import { chmodSync, existsSync } from "node:fs";
import Database from "better-sqlite3";
import type { Driver, Query, Row } from "./driver.js";
import { SqlStorage } from "./sql.js";
import { Checkpointer } from "./sqlite-checkpoint.js";

interface PendingTx {
  fn: (q: Query) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** At most this many transactions share one COMMIT (bounds the latency a group adds). */
const maxGroup = 32;

class SqliteDriver implements Driver {
  readonly kind = "sqlite" as const;
  private readonly statements = new Map<string, { stmt: Database.Statement; order: number[] }>();
  private queue: Promise<void> = Promise.resolve();
  private readonly locks = new Set<string>();
  private readonly pending: PendingTx[] = [];
  private scheduled = false;

  /** Set when the database is a file: checkpoints from a worker (sqlite-checkpoint.ts). */
  checkpointer: Checkpointer | undefined;

  constructor(private readonly db: Database.Database) {}

  /** Runs `fn` while no statement or transaction of this connection runs (checkpoints use it). */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Back to SQLite's own checkpoints, in the COMMIT (the worker failed). */
  autoCheckpoint(): void {
    this.db.pragma("wal_autocheckpoint = 1000");
  }

  private run(sql: string, params: unknown[] = []): Row[] {
    let entry = this.statements.get(sql);
    if (!entry) {
      const order: number[] = [];
      const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
        order.push(Number(n) - 1);
        return "?";
      });
      entry = { stmt: this.db.prepare(text), order };
      this.statements.set(sql, entry);
    }
    const args = entry.order.map((i) => {
      const v = params[i];
      return typeof v === "boolean" ? (v ? 1 : 0) : v;
    });
    if (entry.stmt.reader) return entry.stmt.all(...args) as Row[];
    entry.stmt.run(...args);
    return [];
  }

  /** Waits for any open transaction, then holds the connection until `release` is called. */
  private async acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => {
      release = resolve;
    });
    const prev = this.queue;
    this.queue = prev.then(() => next);
    await prev;
    return release;
  }

  query: Query = async (sql, params) => {
    const release = await this.acquire();
    try {
      return this.run(sql, params);
    } finally {
      release();
    }
  };

  /**
   * Group commit: transactions begun in the same turn of the event loop (the requests whose bodies
   * arrived together), or while a group is running, are run together, each in its own savepoint
   * (so one failing rolls back only itself), under one COMMIT. Each caller's promise
   * settles only after that COMMIT, so an acknowledged write is a committed one; what is saved is
   * the per-commit work (the B-tree pages every report touches are written to the WAL once per
   * group instead of once per report).
   */
  tx<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve, reject } as PendingTx);
      // Started on the next turn of the event loop, not at once: the reports whose requests
      // finished in this turn (the sockets read together) then share one group.
      if (this.pending.length === 1 && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          void this.runGroup();
        });
      }
    });
  }

  private async runGroup(): Promise<void> {
    const release = await this.acquire();
    const group = this.pending.splice(0, maxGroup);
    if (group.length === 0) return release();
    const settled: (() => void)[] = [];
    const q: Query = async (sql, params) => this.run(sql, params);
    try {
      this.db.exec("BEGIN IMMEDIATE");
      for (const item of group) {
        this.db.exec("SAVEPOINT tend_tx");
        try {
          const value = await item.fn(q);
          this.db.exec("RELEASE tend_tx");
          settled.push(() => item.resolve(value));
        } catch (err) {
          this.db.exec("ROLLBACK TO tend_tx");
          this.db.exec("RELEASE tend_tx");
          settled.push(() => item.reject(err));
        }
      }
      this.db.exec("COMMIT");
      for (const s of settled) s();
    } catch (err) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      for (const item of group) item.reject(err);
    } finally {
      release();
      // Those that queued during this group go next, behind any single statements waiting.
      if (this.pending.length > 0) void this.runGroup();
    }
  }

  async migrate(statements: string[]): Promise<void> {
    await this.tx(async (q) => {
      for (const s of statements) await q(s);
    });
  }

  async tryLock<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
    // One process owns a SQLite file, so a lock in memory is enough.
    if (this.locks.has(name)) return undefined;
    this.locks.add(name);
    try {
      return await fn();
    } finally {
      this.locks.delete(name);
    }
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    await this.acquire();
    this.db.close();
  }
}

/** Opens (creating when missing) the SQLite database at `file`; `:memory:` for tests. */
export async function openSqlite(
  file: string,
  o: { checkpoint?: { intervalMs?: number; holdFrames?: number } } = {},
): Promise<SqlStorage> {
  const fresh = file !== ":memory:" && !existsSync(file);
  const db = new Database(file);
  if (fresh) chmodSync(file, 0o600);
  db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = 5000");
  // NORMAL in WAL mode survives a killed process (the WAL is in the OS cache); only a power cut
  // can lose the last transactions.
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  const driver = new SqliteDriver(db);
  if (file !== ":memory:") {
    // Checkpoints in a worker, not in whichever COMMIT crosses 1,000 pages (see sqlite-checkpoint.ts);
    // the WAL file is cut back to 32 MiB whenever it starts over.
    db.pragma("wal_autocheckpoint = 0");
    db.pragma("journal_size_limit = 33554432");
    driver.checkpointer = new Checkpointer({
      file,
      ...o.checkpoint,
      hold: (fn) => driver.hold(fn),
      onFailure: (err) => {
        driver.autoCheckpoint();
        process.emitWarning(
          `SQLite checkpoint worker failed (${(err as Error)?.message ?? err}); checkpoints run in the COMMIT again`,
        );
      },
    });
  }
  const storage = new SqlStorage(driver);
  await storage.init();
  return storage;
}
