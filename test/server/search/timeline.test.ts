/**
 * The fleet-wide timeline on each database: buckets counted against a brute-force count of the
 * stored reports, settled hours kept (and read back unchanged), the newest hour counted live, the
 * 1-hour window in 5-minute buckets; and GET /api/v1/timeline for a viewer.
 */
import t from "tap";
import type { Report } from "../../../core/types.js";
import type { TimelineBucket } from "../../../server/storage/sql/timeline.js";
import type { Storage } from "../../../server/storage/types.js";
import { randomReport, rng } from "../../helpers/search-oracle.js";
import { bearer, startTestServer } from "../../helpers/server-app.js";
import { testStorages } from "../../helpers/server-storage.js";

const hour = 3_600_000;
const now = Date.parse("2030-06-01T12:34:00.000Z");

interface Sent {
  report: Report;
  at: number;
}

async function fill(s: Storage, seed: number): Promise<Sent[]> {
  const r = rng(seed);
  const sent: Sent[] = [];
  for (let i = 0; i < 8; i++) {
    const name = `node-${i}`;
    await s.createToken({
      hash: `t-${name}`,
      kind: "enroll",
      created_at: 0,
      expires_at: null,
      uses_left: 1,
      node_glob: null,
      reenroll: false,
    });
    await s.enroll({
      tokenHash: `t-${name}`,
      node: name,
      credentialHash: `c-${name}`,
      now: 0,
      allowSupersede: false,
    });
  }
  for (let k = 0; k < 300; k++) {
    // Over the last 30 hours, a few in the future of the window's start and some this very hour.
    const at = now - r.int(30 * hour) + (k % 10 === 0 ? 30 * 60_000 - r.int(60_000) : 0);
    const report = randomReport(r, `node-${r.int(8)}`, new Date(at - 1000).toISOString());
    await s.saveReport(report, Math.min(at, now));
    sent.push({ report, at: Math.min(at, now) });
  }
  return sent;
}

function brute(sent: Sent[], from: number, size: number, count: number): TimelineBucket[] {
  return Array.from({ length: count }, (_, i) => {
    const start = from + i * size;
    const inside = sent.filter((x) => x.at >= start && x.at < start + size).map((x) => x.report);
    const drift = (r: Report) => r.resources.some((x) => x.drifted);
    return {
      start,
      runs: inside.length,
      failed: inside.filter((r) => r.status === "failed").length,
      drifted: inside.filter((r) => r.status !== "failed" && drift(r)).length,
      changed: inside.filter((r) => r.status === "changed" && !drift(r)).length,
    };
  });
}

for (const make of testStorages()) {
  const probe = make();
  const name = probe.name;
  await probe.cleanup();

  t.test(
    `${name}: the timeline counts every run in its bucket, keeps settled hours, counts the newest live`,
    async (t) => {
      const ts = make();
      const s = await ts.open();
      t.teardown(async () => {
        await s.close();
        await ts.cleanup();
      });
      const sent = await fill(s, 5);
      const from = Math.floor((now - 24 * hour) / hour) * hour;
      const want = brute(sent, from, hour, 25);
      t.ok(want.filter((b) => b.runs > 0).length > 20, "the fixture fills most hours");
      t.ok(want.some((b) => b.failed > 0) && want.some((b) => b.drifted > 0), "with failures and drift");
      t.same(await s.ui.timeline(24 * hour, hour, now), want, "24 hours, by the hour, first fill");
      t.same(await s.ui.timeline(24 * hour, hour, now), want, "the same from the kept hours");

      // A report arriving now lands in the newest (live) hour; settled hours do not move.
      const late = randomReport(rng(9), "node-1", new Date(now - 500).toISOString());
      late.status = "failed";
      await s.saveReport(late, now);
      const after = await s.ui.timeline(24 * hour, hour, now);
      t.equal(after.at(-1)?.runs, (want.at(-1)?.runs ?? 0) + 1, "the live hour counts it");
      t.equal(after.at(-1)?.failed, (want.at(-1)?.failed ?? 0) + 1);
      t.same(after.slice(0, -1), want.slice(0, -1), "earlier hours unchanged");

      const fiveMin = 300_000;
      const from5 = Math.floor((now - hour) / fiveMin) * fiveMin;
      const sentNow = [...sent, { report: late, at: now }];
      t.same(
        await s.ui.timeline(hour, fiveMin, now),
        brute(sentNow, from5, fiveMin, 13),
        "1 hour in 5-minute buckets",
      );
      const month = await s.ui.timeline(30 * 24 * hour, hour, now);
      t.equal(month.length, 721, "30 days: 720 settled hours and the newest");
      t.equal(
        month.reduce((a, b) => a + b.runs, 0),
        sentNow.length,
        "every run counted once",
      );
    },
  );
}

t.test("GET /api/v1/timeline answers a viewer, with ISO bucket starts", async (t) => {
  const srv = await startTestServer();
  t.teardown(() => srv.close());
  const viewer = await srv.tokenFor("viewer");
  const res = await srv.app.inject({ url: "/api/v1/timeline?window=1h", headers: bearer(viewer) });
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.equal(body.window, "1h");
  t.equal(body.bucket_s, 300);
  t.ok(body.buckets.length === 12 || body.buckets.length === 13, "12 or 13 five-minute buckets");
  t.match(body.buckets[0], { start: /^\d{4}-\d\d-\d\dT\d\d:\d[05]:00\.000Z$/, runs: 0 });
  const bad = await srv.app.inject({ url: "/api/v1/timeline?window=2y", headers: bearer(viewer) });
  t.equal(bad.statusCode, 400, "an unknown window is refused");
  t.equal((await srv.app.inject({ url: "/api/v1/timeline" })).statusCode, 401);
});
