/**
 * TRUST I1: two machines with one credential (a cloned VM). Their reports, posted at the same
 * time, are both stored whole; because their run windows overlap (one agent never overlaps its own
 * runs), the server raises a "duplicate identity" alert: in its storage (shown on the fleet and node
 * pages), in /metrics, until the node is re-enrolled. Runs one after another, a retried report, and
 * a report spooled during an outage that arrives late raise nothing. On both storages.
 */
import t from "tap";
import type { Report } from "../../core/types.js";
import { DuplicateDetector } from "../../server/duplicates.js";
import { fleetPage, fleetParams } from "../../server/ui/pages/fleet.js";
import { nodePage } from "../../server/ui/pages/node.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { makeReport } from "../helpers/server-report.js";
import { testStorages } from "../helpers/server-storage.js";

const at = (r: Report, startedMs: number, durationMs: number): Report => ({
  ...r,
  started_at: new Date(startedMs).toISOString(),
  duration_ms: durationMs,
});
const t0 = Date.parse("2026-11-26T01:00:00Z");

t.test("the detector: overlap is two machines; sequence, retries and late arrivals are not", async (t) => {
  const d = new DuplicateDetector();
  const a = at(makeReport("web-1", null), t0, 60_000);
  t.equal(d.check(a, 1), null, "a first run");
  t.equal(d.check(at(makeReport("web-1", null), t0 + 60_000, 1_000), 2), null, "the next run, after it");
  t.equal(d.check(a, 3), null, "the same report again (a retry)");
  t.equal(d.check(at(makeReport("web-1", null), t0 - 3_600_000, 5_000), 4), null, "an old spooled run");
  t.equal(
    d.check(at(makeReport("web-2", null), t0 + 10_000, 1_000), 5),
    null,
    "another node at the same time",
  );
  const clone = at(makeReport("web-1", null), t0 + 30_000, 60_000);
  t.same(d.check(clone, 6), { node: "web-1", reports: [a.id, clone.id], at: 6 }, "overlapping: two machines");
});

for (const make of testStorages()) {
  const ts = make();
  t.test(`two machines with one credential, on ${ts.name}`, async (t) => {
    const s = await startTestServer({ storage: ts });
    t.teardown(() => s.close());
    const cred = await s.enroll("web-1");
    const other = await s.enroll("db-1");
    const post = (r: Report, secret = cred) =>
      s.app.inject({ method: "POST", url: "/api/v1/reports", headers: bearer(secret), payload: r });
    const start = Date.now() - 120_000;

    // Runs one after another, and db-1 at the same time: no alert.
    t.equal((await post(at(makeReport("web-1", null), start, 10_000))).statusCode, 201);
    t.equal((await post(at(makeReport("web-1", null), start + 20_000, 10_000))).statusCode, 201);
    t.equal((await post(at(makeReport("db-1", null), start + 20_000, 10_000), other)).statusCode, 201);
    t.same(await s.storage.duplicateIdentities(), [], "no alert for ordinary runs");

    // The clones: same splay, same schedule, so their runs start together.
    const a = at(makeReport("web-1", null, { drifted: ["file:/etc/motd"] }), start + 60_000, 8_000);
    const b = at(makeReport("web-1", null), start + 60_400, 8_000);
    const replies = await Promise.all([post(a), post(b)]);
    t.same(
      replies.map((r) => r.statusCode),
      [201, 201],
      "both requests succeed",
    );
    for (const r of [a, b]) t.same(await s.storage.getReport(r.id), r, `report ${r.id} is stored whole`);
    const alerts = await s.storage.duplicateIdentities();
    t.equal(alerts.length, 1, "one alert");
    t.equal(alerts[0]?.node, "web-1");
    t.same([...(alerts[0]?.reports ?? [])].sort(), [a.id, b.id].sort(), "naming both reports");

    const metrics = await s.app.inject({ url: "/metrics" });
    t.match(metrics.body, /^tend_duplicate_identity_total\{node="web-1"\} 1$/m, "counted in /metrics");
    const now = Date.now();
    const fleet = (await fleetPage(s.storage, fleetParams({}), { iso: "", ms: 0 }, now)).text;
    t.match(fleet, /duplicate identity:.*web-1.*two machines use its credential/s, "on the fleet page");
    t.match((await nodePage(s.storage, "web-1", 1, now))?.text, /duplicate identity:/, "on its node page");
    t.notMatch((await nodePage(s.storage, "db-1", 1, now))?.text, /duplicate identity:/, "not on another's");

    // Re-enrolling the name (each machine then gets its own) ends the alert.
    const token = await s.enrollToken({ reenroll: true, glob: "web-1" });
    const res = await s.app.inject({
      method: "POST",
      url: "/api/v1/enroll",
      payload: { token, node: "web-1" },
    });
    t.equal(res.statusCode, 200);
    t.same(await s.storage.duplicateIdentities(), [], "gone once the node is enrolled again");
  });
}
