/**
 * SQLite checkpoints off the request path (server/storage/sqlite-checkpoint.ts): the server's
 * connection never checkpoints by itself (`wal_autocheckpoint = 0`); a worker's passive checkpoints
 * copy the WAL into the database file, the WAL starts over instead of growing under steady writes,
 * every acknowledged report is there after a reopen, and a failed worker hands checkpoints back to
 * SQLite. No timings asserted.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import t from "tap";
import type { Driver } from "../../server/storage/driver.js";
import type { SqlStorage } from "../../server/storage/sql.js";
import { openSqlite } from "../../server/storage/sqlite.js";
import type { Checkpointer } from "../../server/storage/sqlite-checkpoint.js";
import { makeReport } from "../helpers/server-report.js";

interface Inside {
  db: Driver & { checkpointer?: Checkpointer };
}
const inside = (s: SqlStorage) => (s as unknown as Inside).db;

async function withNode(s: SqlStorage, node: string): Promise<void> {
  await s.createToken({
    hash: `h-${node}`,
    kind: "enroll",
    created_at: 0,
    expires_at: null,
    uses_left: null,
    node_glob: null,
    reenroll: false,
  });
  await s.enroll({
    tokenHash: `h-${node}`,
    node,
    credentialHash: `c-${node}`,
    now: 0,
    allowSupersede: false,
  });
}

const walBytes = (file: string) => {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
};

t.test("checkpoints run in the worker and the WAL starts over", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-ckpt-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "tend.db");
  // No timer: the test runs each checkpoint itself. A small WAL limit, to reach the held path.
  let s = await openSqlite(file, { checkpoint: { intervalMs: 3_600_000, holdFrames: 200 } });
  const cp = inside(s).checkpointer as Checkpointer;
  t.ok(cp, "a file database gets a checkpointer");
  t.same(await inside(s).query("PRAGMA wal_autocheckpoint"), [{ wal_autocheckpoint: 0 }], "none in a COMMIT");
  await withNode(s, "web-1");

  const ids: string[] = [];
  const burst = async (n: number) => {
    const reports = Array.from({ length: n }, () => makeReport("web-1", null, { count: 30 }));
    ids.push(...reports.map((r) => r.id));
    const out = await Promise.all(reports.map((r) => s.saveReport(r, 1)));
    t.ok(
      out.every((o) => o === "stored"),
      "stored",
    );
  };
  await burst(300);
  const first = await cp.tick();
  t.ok(first && first.log > 200, `the WAL held the writes (${first?.log} frames)`);
  t.equal(first?.checkpointed, first?.log, "all of it copied when nothing writes meanwhile");
  await burst(1);
  const after = await cp.tick();
  t.ok(after && after.log < (first?.log ?? 0), `then the WAL started over (${after?.log} frames)`);

  // Steady writes with checkpoints running beside them: the WAL does not grow without bound.
  let peak = 0;
  for (let i = 0; i < 30; i++) {
    const tick = cp.tick();
    await burst(40);
    await tick;
    peak = Math.max(peak, walBytes(file));
  }
  t.ok(peak < 32 * 1024 * 1024, `the WAL stayed bounded (peak ${(peak / 1024 / 1024).toFixed(1)} MiB)`);

  // A reader holding an old snapshot keeps a passive checkpoint from copying everything: once the
  // WAL is long, the second checkpoint runs with transactions held back, and writes go on after.
  const reader = new Database(file);
  reader.exec("BEGIN");
  reader.prepare("SELECT COUNT(*) AS n FROM reports").get();
  await burst(300);
  const blocked = await cp.tick();
  t.ok(blocked && blocked.checkpointed < blocked.log, "not all copied past the reader");
  t.equal(cp.stats.held, 1, "the held checkpoint ran");
  await burst(5);
  reader.exec("COMMIT");
  reader.close();
  const freed = await cp.tick();
  t.equal(freed?.checkpointed, freed?.log, "all copied once the reader is gone");

  await s.close();
  const raw = new Database(file);
  t.equal(raw.pragma("integrity_check", { simple: true }), "ok");
  raw.close();
  s = await openSqlite(file);
  t.teardown(() => s.close());
  const missing = [];
  for (const id of ids) if (!(await s.getReport(id))) missing.push(id);
  t.same(missing, [], `all ${ids.length} acknowledged reports are there after a reopen`);
});

t.test("a failed checkpoint worker hands checkpoints back to SQLite", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-ckpt-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const s = await openSqlite(join(dir, "tend.db"), { checkpoint: { intervalMs: 3_600_000 } });
  t.teardown(() => s.close());
  const cp = inside(s).checkpointer as Checkpointer;
  await cp.tick(); // starts the worker
  await (cp as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
  await new Promise((r) => setImmediate(r));
  t.same(await inside(s).query("PRAGMA wal_autocheckpoint"), [{ wal_autocheckpoint: 1000 }]);
  t.equal(await cp.tick(), undefined, "no more checkpoints from the worker");
});

t.test("an in-memory database has no checkpointer", async (t) => {
  const s = await openSqlite(":memory:");
  t.teardown(() => s.close());
  t.equal(inside(s).checkpointer, undefined);
});
