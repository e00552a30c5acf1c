/**
 * The storages the server tests run against: SQLite in a temp dir always, and PostgreSQL at
 * TEND_TEST_DATABASE_URL, by default the machine's own (postgres://postgres@127.0.0.1:5432/test),
 * each test in its own schema, dropped after. `TEND_TEST_DATABASE_URL=none` leaves PostgreSQL out
 * (its suites then say so as skipped), for a machine that has none.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openPostgres } from "../../server/storage/postgres.js";
import { openSqlite } from "../../server/storage/sqlite.js";
import type { Storage } from "../../server/storage/types.js";

export interface TestStorage {
  name: "sqlite" | "postgres";
  /** What a server config's `database` (and `database_schema`) would say. */
  database: string;
  schema?: string;
  open(): Promise<Storage>;
  cleanup(): Promise<void>;
}

const pgSetting = process.env.TEND_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
export const pgUrl = pgSetting === "none" ? undefined : pgSetting;
export const noPgReason = "TEND_TEST_DATABASE_URL=none: PostgreSQL left out";

export function sqliteStorage(): TestStorage {
  const dir = mkdtempSync(join(tmpdir(), "tend-sqlite-"));
  const file = join(dir, "tend.db");
  return {
    name: "sqlite",
    database: "sqlite",
    open: () => openSqlite(file),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function postgresStorage(url: string): TestStorage {
  const schema = `tend_test_${randomBytes(6).toString("hex")}`;
  return {
    name: "postgres",
    database: url,
    schema,
    open: () => openPostgres({ url, schema, max: 4 }),
    cleanup: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}

/** Every storage available here: the suites loop over it. */
export function testStorages(): (() => TestStorage)[] {
  const all: (() => TestStorage)[] = [sqliteStorage];
  if (pgUrl) all.push(() => postgresStorage(pgUrl));
  return all;
}

/**
 * A TCP proxy on 127.0.0.1 in front of the PostgreSQL at `url`, to take the database away from a
 * server under test: `cut()` closes the listener and every open connection, `restore()` listens
 * again on the same port. `url` is the address to give the server.
 */
export async function pgProxy(target: string) {
  const upstreamUrl = new URL(target);
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect(Number(upstreamUrl.port || 5432), upstreamUrl.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const port = (proxy.address() as { port: number }).port;
  const url = new URL(target);
  url.host = `127.0.0.1:${port}`;
  const cut = () => {
    proxy.close();
    for (const sock of sockets) sock.destroy();
    sockets.clear();
  };
  return {
    url: url.toString(),
    cut,
    restore: () => new Promise<void>((r) => proxy.listen(port, "127.0.0.1", r)),
    close: cut,
  };
}
