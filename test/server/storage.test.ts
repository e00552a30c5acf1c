import t from "tap";
import type { Report } from "../../core/types.js";
import { testStorages } from "../helpers/server-storage.js";

function report(id: string, node: string, startedAt: string, drifted: string[] = []): Report {
  const resources = ["file:/etc/motd", "package:nginx", "service:nginx"].map((rid) => ({
    id: rid,
    type: rid.split(":")[0] as "file",
    status: drifted.includes(rid) ? ("changed" as const) : ("unchanged" as const),
    drifted: drifted.includes(rid),
    changes: drifted.includes(rid) ? [{ property: "content", from: "a", to: "b" }] : [],
    diff: null,
    error: null,
    duration_ms: 1,
  }));
  return {
    format: 1,
    id,
    node,
    commit: "c0ffee",
    mode: "apply",
    status: drifted.length ? "changed" : "unchanged",
    started_at: startedAt,
    duration_ms: 12,
    catalog_source: "server",
    catalog_age_s: 0,
    summary: {
      total: 3,
      changed: drifted.length,
      drifted: drifted.length,
      failed: 0,
      skipped: 0,
      unchanged: 3,
    },
    resources,
  };
}

for (const make of testStorages()) {
  const ts = make();
  t.test(`${ts.name} storage`, async (t) => {
    const s = await ts.open();
    t.teardown(async () => {
      await s.close();
      await ts.cleanup();
    });
    const now = Date.now();
    await s.createToken({
      hash: "tok1",
      kind: "enroll",
      created_at: now,
      expires_at: now + 3600_000,
      uses_left: 1,
      node_glob: null,
      reenroll: false,
    });

    await t.test("a single-use token enrols once, then is spent", async (t) => {
      const tok = await s.getToken("tok1");
      t.equal(tok?.uses_left, 1);
      t.same(
        await s.enroll({
          tokenHash: "tok1",
          node: "web-1",
          credentialHash: "c1",
          now,
          allowSupersede: false,
        }),
        {
          ok: true,
          superseded: false,
        },
      );
      t.same(
        await s.enroll({
          tokenHash: "tok1",
          node: "web-2",
          credentialHash: "c2",
          now,
          allowSupersede: false,
        }),
        {
          ok: false,
          reason: "token-used",
        },
      );
      t.equal(await s.nodeByCredential("c1"), "web-1");
      t.equal(await s.nodeByCredential("c2"), undefined);
    });

    await t.test("re-enrolling an existing name needs a token that allows it", async (t) => {
      await s.createToken({
        hash: "tok2",
        kind: "enroll",
        created_at: now,
        expires_at: null,
        uses_left: 5,
        node_glob: null,
        reenroll: false,
      });
      t.same(
        await s.enroll({
          tokenHash: "tok2",
          node: "web-1",
          credentialHash: "c3",
          now,
          allowSupersede: false,
        }),
        {
          ok: false,
          reason: "node-exists",
        },
      );
      t.equal((await s.getToken("tok2"))?.uses_left, 5, "a refused enrolment spends no use");
      t.same(
        await s.enroll({ tokenHash: "tok2", node: "web-1", credentialHash: "c3", now, allowSupersede: true }),
        {
          ok: true,
          superseded: true,
        },
      );
      t.equal(await s.nodeByCredential("c1"), undefined, "the old credential is gone");
      t.equal(await s.nodeByCredential("c3"), "web-1");
    });

    await t.test("the catalog serial grows only when the catalog changes", async (t) => {
      const a = await s.catalogSerial("web-1", "d1");
      t.equal(await s.catalogSerial("web-1", "d1"), a);
      const b = await s.catalogSerial("web-1", "d2");
      t.ok(b > a);
      t.ok((await s.catalogSerial("web-1", "d1")) > b, "going back to an old catalog is a new serial");
    });

    await t.test("reports are stored once, drift comes from the latest report", async (t) => {
      await s.enroll({ tokenHash: "tok2", node: "db-1", credentialHash: "c4", now, allowSupersede: false });
      t.equal(
        await s.saveReport(report("r1", "web-1", "2024-01-01T00:00:00Z", ["file:/etc/motd"]), now),
        "stored",
      );
      t.equal(
        await s.saveReport(report("r1", "web-1", "2024-01-01T00:00:00Z", ["file:/etc/motd"]), now),
        "duplicate",
      );
      t.equal(await s.saveReport(report("r1", "db-1", "2024-01-01T00:00:00Z"), now), "conflict");
      t.equal((await s.drift()).length, 1);
      t.equal(await s.saveReport(report("r2", "web-1", "2024-01-02T00:00:00Z"), now), "stored");
      t.same(await s.drift(), [], "the latest report has no drift");
      t.equal(
        await s.saveReport(report("r0", "web-1", "2023-12-31T00:00:00Z", ["package:nginx"]), now),
        "stored",
      );
      t.same(await s.drift(), [], "an older report arriving late does not become the latest");
      t.same(
        (await s.nodeReports("web-1", 10)).map((r) => r.id),
        ["r2", "r1", "r0"],
      );
      t.equal((await s.getReport("r1"))?.resources[0]?.drifted, true);
      const nodes = await s.listNodes();
      t.same(
        nodes.map((n) => [n.name, n.last_report_id, n.last_status]),
        [
          ["db-1", null, null],
          ["web-1", "r2", "unchanged"],
        ],
      );
      t.same(await s.nodesByStatus(), { none: 1, unchanged: 1 });
    });

    await t.test("pruning keeps every node's latest report", async (t) => {
      t.equal(await s.pruneReports(now + 1), 2);
      t.same(
        (await s.nodeReports("web-1", 10)).map((r) => r.id),
        ["r2"],
      );
    });

    await t.test("commits and the live commit", async (t) => {
      t.equal(await s.liveCommit(), null);
      await s.recordCommit({ sha: "a1", valid: true, problems: [], seen_at: 1, summary: "ok" });
      await s.recordCommit({
        sha: "b2",
        valid: false,
        problems: [{ code: "TEND_E_YAML", message: "bad", file: "nodes.yaml", line: 3 }],
        seen_at: 2,
        summary: "1 error",
      });
      await s.setLiveCommit("a1");
      t.equal(await s.liveCommit(), "a1");
      t.same(
        (await s.listCommits(10)).map((c) => [c.sha, c.valid]),
        [
          ["b2", false],
          ["a1", true],
        ],
      );
      t.equal((await s.getCommit("b2"))?.problems[0]?.line, 3);
    });

    await t.test("the ingest lock is exclusive", async (t) => {
      const inner = await s.withIngestLock(async () => s.withIngestLock(async () => "inner"));
      t.equal(inner, undefined);
      t.equal(await s.withIngestLock(async () => "again"), "again");
    });

    await t.test("facts are kept per node", async (t) => {
      await s.saveFacts("web-1", { hostname: "web-1" } as never, now);
      t.same(await s.knownFacts(), [{ node: "web-1", facts: { hostname: "web-1" } }]);
    });
  });
}
