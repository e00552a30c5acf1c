/** The dashboard's storage (sessions and page queries) on every storage available: SQLite, and PostgreSQL when configured. */
import t from "tap";
import type { Report } from "../../core/types.js";
import type { Storage } from "../../server/storage/types.js";
import { nodePage } from "../../server/ui/pages/node.js";
import { makeReport } from "../helpers/server-report.js";
import { testStorages } from "../helpers/server-storage.js";

async function node(s: Storage, name: string): Promise<void> {
  const hash = `tok-${name}`;
  await s.createToken({
    hash,
    kind: "enroll",
    created_at: 0,
    expires_at: null,
    uses_left: 1,
    node_glob: null,
    reenroll: false,
  });
  const out = await s.enroll({
    tokenHash: hash,
    node: name,
    credentialHash: `cred-${name}`,
    now: 1000,
    allowSupersede: false,
  });
  if (!out.ok) throw new Error(out.reason);
}

function at(r: Report, iso: string, patch: Partial<Report> = {}): Report {
  return { ...r, started_at: iso, ...patch };
}

const stale = { iso: "2030-01-01T00:00:00.000Z", ms: 5000 };

for (const make of testStorages()) {
  const ts = make();
  t.test(`${ts.name}: sessions are kept by hash, expire, and end`, async (t) => {
    const s = await ts.open();
    t.teardown(async () => {
      await s.close();
      await ts.cleanup();
    });
    await s.ui.createSession({ hash: "h1", created_at: 100, expires_at: 200 });
    t.ok(await s.ui.getSession("h1", 150), "found before it expires");
    t.equal(await s.ui.getSession("h1", 200), undefined, "refused once expired");
    t.equal(await s.ui.getSession("h2", 150), undefined);
    await s.ui.createSession({ hash: "h2", created_at: 300, expires_at: 900 });
    await s.ui.deleteSession("h2");
    t.equal(await s.ui.getSession("h2", 400), undefined, "gone after logout");

    for (const n of ["web-1", "web-2", "db_1x", "idle"]) await node(s, n);
    const w1 = [
      at(makeReport("web-1", "c1"), "2030-01-02T00:00:00.000Z", { trigger: "schedule" }),
      at(makeReport("web-1", "c2", { drifted: ["file:/etc/motd"] }), "2030-01-02T01:00:00.000Z", {
        trigger: "watch",
      }),
      at(
        makeReport("web-1", "c2", { drifted: ["file:/etc/motd", "file:/etc/hosts"] }),
        "2030-01-02T02:00:00.000Z",
      ),
    ];
    for (const r of w1) t.equal(await s.saveReport(r, 2000), "stored");
    await s.saveReport(at(makeReport("web-2", "c2"), "2030-01-02T02:00:00.000Z", { status: "failed" }), 2000);
    await s.saveReport(
      at(makeReport("db_1x", "c1", { drifted: ["file:/etc/motd"] }), "2029-12-31T00:00:00.000Z"),
      2000,
    );

    const counts = await s.ui.fleetCounts(stale, "c2");
    t.same(
      counts,
      { nodes: 4, failing: 1, drifted: 2, stale: 2, onLive: 2 },
      "idle never reported and enrolled long ago; db reported long ago: both stale",
    );
    const q = { stale, sort: "name" as const, desc: false, offset: 0, limit: 50 };
    const names = async (extra: object) => (await s.ui.fleet({ ...q, ...extra })).rows.map((r) => r.name);
    t.same(await names({}), ["db_1x", "idle", "web-1", "web-2"]);
    t.same(await names({ status: "failed" }), ["web-2"]);
    t.same(await names({ status: "none" }), ["idle"]);
    t.same(await names({ driftedOnly: true }), ["db_1x", "web-1"]);
    t.same(await names({ staleOnly: true }), ["db_1x", "idle"]);
    t.same(await names({ search: "WEB" }), ["web-1", "web-2"]);
    t.same(await names({ search: "_" }), ["db_1x"], "LIKE wildcards in a search are literal");
    t.same(await names({ sort: "drifted", desc: true }), ["web-1", "db_1x", "idle", "web-2"]);
    t.same(
      await names({ sort: "last_run", desc: true }),
      ["web-1", "web-2", "db_1x", "idle"],
      "never-run last",
    );
    const page2 = await s.ui.fleet({ ...q, offset: 2, limit: 2 });
    t.same([page2.total, page2.rows.map((r) => r.name)], [4, ["web-1", "web-2"]], "paginated");
    t.same((await s.ui.fleet({ ...q, search: "web-1" })).rows[0]?.drifted, 2);

    const strip = await s.ui.recentRuns(["web-1", "idle"], 2);
    t.same(
      strip.get("web-1")?.map((r) => [r.id, r.drifted]),
      [
        [w1[2]?.id, 2],
        [w1[1]?.id, 1],
      ],
      "newest first, limited",
    );
    t.same(strip.get("idle"), []);
    const runs = await s.ui.nodeRuns("web-1", 10, 1);
    t.same(
      runs.map((r) => [r.changed, r.drifted, r.failed]),
      [
        [1, 1, 0],
        [0, 0, 0],
      ],
      "offset skips the newest",
    );
    t.same(
      (await s.ui.nodeRuns("web-1", 10, 0)).map((r) => r.trigger),
      [null, "watch", "schedule"],
      "each run's trigger, from its report (none named: null)",
    );
    const page = (await nodePage(s, "web-1", 1, Date.parse("2030-01-02T03:00:00.000Z")))?.toString() ?? "";
    t.match(page, "<th>trigger</th>", "the node page's reports table has a trigger column");
    t.match(page, /<td>apply<\/td><td>watch repair<\/td>/, "a watch repair says so in its row");
    t.match(page, /<td>apply<\/td><td>schedule<\/td>/);
    const info = await s.ui.nodeInfo("web-1");
    t.same([info?.reports, info?.last_commit, info?.last_status], [3, "c2", "changed"]);
    t.equal(await s.ui.nodeInfo("nope"), undefined);

    const hist = await s.ui.driftHistory(["file:/etc/motd"]);
    const byNode = Object.fromEntries(hist.map((h) => [h.node, [h.times, h.first]]));
    t.same(byNode, { "web-1": [2, "2030-01-02T01:00:00.000Z"], db_1x: [1, "2029-12-31T00:00:00.000Z"] });
    t.same(await s.ui.rollout("c2", stale), { converged: 1, failed: 1, older: 0, stale: 2 });
  });
}
