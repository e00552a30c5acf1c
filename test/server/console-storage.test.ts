/**
 * The console's storage on both databases: accounts (sessions end with a new password or a removed
 * account), admin tokens with a role (older tokens read as admins, after the column is added to an
 * existing table), and the audit log, which pages newest first and refuses UPDATE and DELETE
 * from anyone, even raw SQL.
 */

import Database from "better-sqlite3";
import pg from "pg";
import t from "tap";
import { openSqlite } from "../../server/storage/sqlite.js";
import { testStorages } from "../helpers/server-storage.js";

const entry = (action: string, at: number) => ({
  at,
  actor: "user:alice",
  role: "admin",
  action,
  nodes: ["web-1", "web-2"],
  details: { id: "0a1b2c3d4e5f" },
  address: "127.0.0.1",
});

for (const make of testStorages()) {
  const ts = make();
  t.test(`${ts.name}: accounts, token roles, audit log`, async (t) => {
    const s = await ts.open();
    t.teardown(async () => {
      await s.close();
      await ts.cleanup();
    });
    const now = Date.now();

    await t.test("accounts: created once, changed, removed; sessions end with them", async (t) => {
      const alice = {
        name: "alice",
        role: "operator" as const,
        password_hash: "scrypt$1",
        created_at: now,
        changed_at: now,
      };
      t.equal(await s.createUser(alice), true);
      t.equal(await s.createUser({ ...alice, role: "admin" }), false, "a taken name is refused");
      t.same(await s.getUser("alice"), alice);
      await s.ui.createSession({
        hash: "s1",
        created_at: now,
        expires_at: now + 60_000,
        principal: "user:alice",
      });
      await s.ui.createSession({
        hash: "s2",
        created_at: now,
        expires_at: now + 60_000,
        principal: "user:bob",
      });
      t.equal(await s.updateUser("alice", { role: "viewer" }, now + 1), true);
      t.equal((await s.getUser("alice"))?.role, "viewer");
      t.ok(
        await s.ui.getSession("s1", now),
        "a role change keeps the session (the role is read per request)",
      );
      t.equal(await s.updateUser("alice", { password_hash: "scrypt$2" }, now + 2), true);
      t.equal((await s.getUser("alice"))?.password_hash, "scrypt$2");
      t.equal(await s.ui.getSession("s1", now), undefined, "a new password ends the account's sessions");
      t.ok(await s.ui.getSession("s2", now), "and no one else's");
      t.equal(await s.updateUser("nobody", { role: "admin" }, now), false);
      await s.ui.createSession({
        hash: "s3",
        created_at: now,
        expires_at: now + 60_000,
        principal: "user:alice",
      });
      t.equal(await s.removeUser("alice"), true);
      t.equal(await s.removeUser("alice"), false);
      t.equal(await s.ui.getSession("s3", now), undefined, "removing the account ends its sessions");
      t.same(
        (await s.listUsers()).map((u) => u.name),
        [],
      );
    });

    await t.test("admin tokens carry a role; revoking one ends only its sessions", async (t) => {
      const base = {
        kind: "admin" as const,
        created_at: now,
        expires_at: null,
        uses_left: null,
        node_glob: null,
        reenroll: false,
      };
      await s.createToken({ ...base, hash: "a".repeat(64) });
      await s.createToken({ ...base, hash: "b".repeat(64), role: "viewer" });
      t.equal((await s.getToken("a".repeat(64)))?.role, "admin", "no role given: admin");
      t.equal((await s.getToken("b".repeat(64)))?.role, "viewer");
      await s.ui.createSession({
        hash: "ta",
        created_at: now,
        expires_at: now + 60_000,
        principal: `token:${"a".repeat(64)}`,
      });
      await s.ui.createSession({
        hash: "tb",
        created_at: now,
        expires_at: now + 60_000,
        principal: `token:${"b".repeat(64)}`,
      });
      await s.revokeToken("a".repeat(12), now);
      t.equal(await s.ui.getSession("ta", now), undefined);
      t.ok(await s.ui.getSession("tb", now), "another token's session stays");
    });

    await t.test("the audit log pages newest first and filters by action", async (t) => {
      const ids: number[] = [];
      for (let i = 0; i < 5; i++)
        ids.push(await s.appendAudit(entry(i % 2 ? "node.revoke" : "token.create", now + i)));
      t.same(
        [...ids].sort((a, b) => a - b),
        ids,
        "ids grow",
      );
      const all = await s.readAudit({ limit: 3 });
      t.same(
        all.map((e) => e.id),
        [ids[4], ids[3], ids[2]],
      );
      t.same(all[0], { id: ids[4], ...entry("token.create", now + 4) }, "every field comes back");
      const older = await s.readAudit({ limit: 3, before: ids[2] });
      t.same(
        older.map((e) => e.id),
        [ids[1], ids[0]],
      );
      t.same(
        (await s.readAudit({ limit: 10, action: "node.revoke" })).map((e) => e.id),
        [ids[3], ids[1]],
      );
    });
  });
}

t.test(
  "sqlite: raw UPDATE and DELETE on the audit table fail; an old database gets the new columns",
  async (t) => {
    const dir = t.testdir({});
    const file = `${dir}/tend.db`;
    // A database as the previous version left it: tokens and sessions without their new columns.
    const old = new Database(file);
    old.exec(`CREATE TABLE tokens (hash TEXT PRIMARY KEY, kind TEXT NOT NULL, created_at BIGINT NOT NULL,
    expires_at BIGINT, uses_left INTEGER, node_glob TEXT, reenroll INTEGER NOT NULL);
    CREATE TABLE sessions (hash TEXT PRIMARY KEY, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
    INSERT INTO tokens VALUES ('${"c".repeat(64)}', 'admin', 1, NULL, NULL, NULL, 0);
    INSERT INTO sessions VALUES ('old', 1, 9999999999999);`);
    old.close();
    const s = await openSqlite(file);
    t.equal((await s.getToken("c".repeat(64)))?.role, "admin", "a token from before roles is an admin's");
    t.equal((await s.ui.getSession("old", 2))?.principal, null, "a session from before roles names no one");
    await s.appendAudit(entry("login", 1));
    await s.close();
    const db = new Database(file);
    t.throws(() => db.prepare("UPDATE audit SET actor = 'someone else'").run(), /append-only/);
    t.throws(() => db.prepare("DELETE FROM audit").run(), /append-only/);
    t.equal((db.prepare("SELECT actor FROM audit").get() as { actor: string }).actor, "user:alice");
    db.close();
    const again = await openSqlite(file);
    t.equal((await again.readAudit({ limit: 5 })).length, 1, "opening it again migrates nothing twice");
    await again.close();
  },
);

const pgStorage = testStorages()[1];
t.test(
  "postgres: raw UPDATE, DELETE and TRUNCATE on the audit table fail",
  { skip: pgStorage ? false : "no PostgreSQL" },
  async (t) => {
    if (!pgStorage) return;
    const ts = pgStorage();
    const s = await ts.open();
    t.teardown(async () => {
      await s.close();
      await ts.cleanup();
    });
    await s.appendAudit(entry("login", 1));
    const client = new pg.Client({ connectionString: ts.database, options: `-c search_path=${ts.schema}` });
    await client.connect();
    t.teardown(() => client.end());
    await t.rejects(client.query("UPDATE audit SET actor = 'someone else'"), /append-only/);
    await t.rejects(client.query("DELETE FROM audit"), /append-only/);
    await t.rejects(client.query("TRUNCATE audit"), /append-only/);
    t.equal((await client.query("SELECT actor FROM audit")).rows[0]?.actor, "user:alice");
  },
);
