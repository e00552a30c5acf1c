/**
 * Reports stored in groups (group commit: SQLite in its driver, PostgreSQL one statement per group,
 * server/storage/pg-reports.ts), and credential lookups batched per turn on PostgreSQL: every
 * report of a burst is acknowledged with its own outcome, stored with its own rows, and moves only
 * its own node's latest-report pointer; a report the database refuses fails only itself; a
 * revoked credential stops authenticating at once. On both storages.
 */
import t from "tap";
import type { Report } from "../../core/types.js";
import { hashSecret } from "../../server/identity.js";
import type { SqlStorage } from "../../server/storage/sql.js";
import { StorageUnavailable } from "../../server/storage/types.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { makeReport } from "../helpers/server-report.js";
import { noPgReason, pgProxy, pgUrl, postgresStorage, testStorages } from "../helpers/server-storage.js";

const at = (r: Report, started_at: string): Report => ({ ...r, started_at });

for (const make of testStorages()) {
  const ts = make();
  t.test(`grouped report ingest on ${ts.name}`, async (t) => {
    const s = await startTestServer({ storage: ts });
    t.teardown(() => s.close());
    const nodes = ["web-1", "web-2", "db-1"];
    for (const n of nodes) await s.enroll(n);

    // A burst: 8 reports per node, their start times shuffled, plus a retry and a stolen id.
    const burst: Report[] = [];
    for (const n of nodes) {
      for (let i = 0; i < 8; i++) {
        const minute = String((i * 5) % 8).padStart(2, "0");
        burst.push(
          at(makeReport(n, null, { drifted: [`file:/etc/${n}-${i}`] }), `2030-01-01T00:${minute}:00.000Z`),
        );
      }
    }
    const first = burst[0] as Report;
    const stolen = { ...makeReport("db-1", null), id: first.id };
    const outcomes = await Promise.all([
      ...burst.map((r) => s.storage.saveReport(r, 1000)),
      s.storage.saveReport(first, 1001),
      s.storage.saveReport(stolen, 1002),
    ]);
    t.same(
      outcomes.slice(1, burst.length),
      Array(burst.length - 1).fill("stored"),
      "each report of the burst stored",
    );
    // The three posts of one id race (PostgreSQL may put any of them in the earliest group): the
    // first stored keeps the id. web-1's: its retry is a duplicate and db-1's a conflict. db-1's:
    // web-1's report and its retry are both conflicts.
    const stolenWon = outcomes[burst.length + 1] === "stored";
    if (stolenWon) {
      t.same([outcomes[0], outcomes[burst.length]], ["conflict", "conflict"], "db-1 took the id first");
    } else {
      t.same(
        [outcomes[0], outcomes[burst.length]].sort(),
        ["duplicate", "stored"],
        "the same id again, same node, in the same burst: stored once",
      );
      t.equal(outcomes[burst.length + 1], "conflict", "the same id from another node");
    }
    const kept = stolenWon ? [stolen, ...burst.slice(1)] : burst;

    for (const r of kept) t.same(await s.storage.getReport(r.id), r, "read back as sent");
    const list = await s.storage.listNodes();
    const newest = new Map<string, Report>();
    for (const r of kept) if (r.started_at > (newest.get(r.node)?.started_at ?? "")) newest.set(r.node, r);
    for (const n of nodes) {
      const row = list.find((x) => x.name === n);
      t.equal(row?.last_report_id, newest.get(n)?.id, `${n}: the latest pointer names its newest report`);
      t.equal(row?.drifted, 1, `${n}: the newest report's drift row`);
    }
    t.same(
      (await s.storage.drift()).map((d) => `${d.report_id} ${d.resource}`).sort(),
      nodes.map((n) => `${newest.get(n)?.id} ${newest.get(n)?.resources.find((x) => x.drifted)?.id}`).sort(),
      "each node's drift is its own newest report's",
    );
    for (const n of nodes) {
      const want = kept.filter((r) => r.node === n).length;
      t.equal(
        (await s.storage.nodeReports(n, 100)).length,
        want,
        `${n}: its ${want} reports, none of another node`,
      );
    }
    // The latest pointer never moves back: an older report arriving later leaves it.
    const old = at(makeReport("web-1", null), "2029-01-01T00:00:00.000Z");
    t.equal(await s.storage.saveReport(old, 1003), "stored");
    t.equal(
      (await s.storage.listNodes()).find((x) => x.name === "web-1")?.last_report_id,
      newest.get("web-1")?.id,
      "an older report arriving later does not move the latest pointer",
    );

    const groups = (s.storage as SqlStorage).reportGroups;
    if (groups)
      t.ok(
        groups.stats.groups < groups.stats.reports,
        `grouped: ${groups.stats.reports} reports in ${groups.stats.groups} statements`,
      );
  });
}

for (const make of testStorages()) {
  const ts = make();
  if (ts.name !== "postgres") continue;
  t.test("postgres: a report the database refuses fails only itself", async (t) => {
    const s = await startTestServer({ storage: ts });
    t.teardown(() => s.close());
    await s.enroll("web-1");
    await s.enroll("web-2");
    const good = [makeReport("web-1", null), makeReport("web-2", null), makeReport("web-1", null)];
    const bad = makeReport("web-2", null);
    // PostgreSQL's text cannot hold NUL: the statement holding this body fails.
    const results = await Promise.allSettled([
      s.storage.saveReport(good[0] as Report, 1),
      s.storage.saveReport(bad, 1, `${JSON.stringify(bad)}\u0000`),
      s.storage.saveReport(good[1] as Report, 1),
      s.storage.saveReport(good[2] as Report, 1),
    ]);
    t.same(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled", "fulfilled"],
    );
    for (const r of good) t.same(await s.storage.getReport(r.id), r, "the others stored");
    t.equal(await s.storage.getReport(bad.id), undefined, "the refused one not at all");
    t.equal((await s.storage.nodeReports("web-2", 10)).length, 1);

    // Large bodies do not share a statement beyond a few MiB.
    const groups = (s.storage as SqlStorage).reportGroups!;
    const before = groups.stats.groups;
    const big = [makeReport("web-1", null), makeReport("web-2", null)];
    const pad = " ".repeat(3 * 1024 * 1024);
    t.same(await Promise.all(big.map((r) => s.storage.saveReport(r, 1, JSON.stringify(r) + pad))), [
      "stored",
      "stored",
    ]);
    t.equal(groups.stats.groups - before, 2, "two 3 MiB reports: two statements");
    for (const r of big) t.same(await s.storage.getReport(r.id), r);
  });
}

t.test(
  "postgres: a lost connection fails the whole group with 503 and stores none of it",
  { skip: !pgUrl && noPgReason },
  async (t) => {
    const db = await pgProxy(pgUrl as string);
    const s = await startTestServer({ storage: postgresStorage(db.url) });
    t.teardown(async () => {
      await s.close();
      db.close();
    });
    await s.enroll("web-1");
    await s.enroll("web-2");
    db.cut();
    const burst = [makeReport("web-1", null), makeReport("web-2", null), makeReport("web-1", null)];
    const down = await Promise.allSettled(burst.map((r) => s.storage.saveReport(r, 1)));
    for (const d of down) {
      t.equal(d.status, "rejected");
      t.type(d.status === "rejected" ? d.reason : undefined, StorageUnavailable, "503, not a 500");
    }
    await db.restore();
    for (const r of burst) t.equal(await s.storage.getReport(r.id), undefined, "none stored");
    t.same(
      await Promise.all(burst.map((r) => s.storage.saveReport(r, 2))),
      ["stored", "stored", "stored"],
      "the agents' retries store them",
    );
  },
);

for (const make of testStorages()) {
  const ts = make();
  t.test(`credential lookups in one turn on ${ts.name}`, async (t) => {
    const s = await startTestServer({ storage: ts });
    t.teardown(() => s.close());
    const creds = [await s.enroll("web-1"), await s.enroll("web-2"), await s.enroll("db-1")];
    const asked = [...creds, creds[0] as string, "tend_node_not-a-credential"].map(hashSecret);
    const found = await Promise.all(asked.map((h) => s.storage.authenticateNode(h)));
    t.same(
      found.map((f) => f?.name),
      ["web-1", "web-2", "db-1", "web-1", undefined],
    );
    t.ok(await s.storage.revokeNode("web-2", Date.now()));
    const after = await Promise.all(asked.map((h) => s.storage.authenticateNode(h)));
    t.same(
      after.map((f) => f?.name),
      ["web-1", undefined, "db-1", "web-1", undefined],
      "a revoked credential fails at once",
    );
    const res = await Promise.all(
      ["web-1", "web-2", "db-1"].map((n, i) =>
        s.app
          .inject({
            method: "POST",
            url: "/api/v1/reports",
            headers: { ...bearer(creds[i] as string), "content-type": "application/json" },
            payload: makeReport(n, null),
          })
          .then((r) => r.statusCode),
      ),
    );
    t.same(res, [201, 401, 201], "over HTTP too, in one burst");
  });
}
