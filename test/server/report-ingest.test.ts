/**
 * Report ingestion as optimised in issue 5: the body is stored as received (a retry, a gzip body
 * and odd whitespace all read back the same report), resource rows are kept for exactly what the
 * drift and dashboard queries count, and concurrent posts of one id store it once — on both
 * storages (PostgreSQL writes a report in one statement).
 */
import { gzipSync } from "node:zlib";
import t from "tap";
import type { Report } from "../../core/types.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { makeReport } from "../helpers/server-report.js";
import { testStorages } from "../helpers/server-storage.js";

function mixed(node: string): Report {
  const r = makeReport(node, null, { count: 12 });
  const set = (i: number, status: Report["resources"][number]["status"], drifted: boolean) => {
    const x = r.resources[i]!;
    x.status = status;
    x.drifted = drifted;
    x.changes = drifted ? [{ property: "mode", from: "0600", to: "0644" }] : [];
  };
  set(0, "changed", true);
  set(1, "failed", false);
  set(2, "would-change", false);
  set(3, "unchanged", true); // drifted and repaired elsewhere: still a drift row
  return { ...r, status: "failed" };
}

for (const make of testStorages()) {
  t.test(`report ingestion on ${make().name}`, async (t) => {
    const s = await startTestServer({ storage: make() });
    t.teardown(() => s.close());
    const inject = s.app.inject.bind(s.app);
    const cred = await s.enroll("web-1");
    const report = mixed("web-1");
    const text = JSON.stringify(report, null, 3);
    const post = (payload: string | Buffer, extra: Record<string, string> = {}) =>
      inject({
        method: "POST",
        url: "/api/v1/reports",
        headers: { ...bearer(cred), "content-type": "application/json", ...extra },
        payload,
      });
    const first = await post(text);
    t.equal(first.statusCode, 201, first.body);
    t.same(first.json(), { id: report.id, stored: true });
    const retry = await post(gzipSync(text), { "content-encoding": "gzip" });
    t.equal(retry.statusCode, 200, "a retry, even gzipped, is stored once");
    t.same(retry.json(), { id: report.id, stored: false });

    const got = await inject({
      method: "GET",
      url: `/api/v1/reports/${report.id}`,
      headers: bearer(s.adminToken),
    });
    t.equal(got.statusCode, 200);
    t.same(got.json(), report, "read back as sent");
    t.same(await s.storage.getReport(report.id), report);

    const [node] = await s.storage.listNodes();
    t.equal(node?.drifted, 2, "both drifted resources counted");
    t.same(
      (await s.storage.drift()).map((d) => d.resource),
      [report.resources[0]!.id, report.resources[3]!.id].sort(),
    );
    const [run] = await s.storage.ui.nodeRuns("web-1", 10, 0);
    t.match(run, { id: report.id, drifted: 2, changed: 2, failed: 1 }, "dashboard counts unchanged");

    const other = makeReport("web-2", null);
    t.equal(await s.storage.saveReport({ ...other, id: report.id }, 1), "conflict", "another node's id");

    const again = makeReport("web-1", null, { drifted: ["file:/etc/motd"] });
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => s.storage.saveReport(again, 2)));
    t.same(
      outcomes.sort(),
      ["duplicate", "duplicate", "duplicate", "duplicate", "duplicate", "duplicate", "duplicate", "stored"],
      "concurrent posts of one id: stored once",
    );
    t.same(await s.storage.getReport(again.id), again);
  });
}
