/**
 * PostgreSQL specifics (TRUST H2): two servers on one database cooperate — one ingests a commit,
 * both serve, both accept reports — and a database that goes away is 503 with Retry-After, then
 * recovers without a restart.
 */
import t from "tap";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { facts, goodRecipes, TestRepo } from "../helpers/server-git.js";
import { makeReport } from "../helpers/server-report.js";
import { noPgReason, pgProxy, pgUrl, postgresStorage } from "../helpers/server-storage.js";

t.test("two servers on one PostgreSQL", { skip: !pgUrl && noPgReason }, async (t) => {
  const repo = new TestRepo();
  repo.commit(goodRecipes);
  const shared = postgresStorage(pgUrl!);
  const [a, b] = await Promise.all([
    startTestServer({ storage: shared, repo }),
    startTestServer({ storage: shared, repo }),
  ]);
  t.teardown(async () => {
    await a.close();
    await b.close();
    repo.cleanup();
  });
  t.equal(a.gate.live?.sha, b.gate.live?.sha, "both serve the same commit");
  const commits = (await a.app.inject({ url: "/api/v1/commits", headers: bearer(a.adminToken) })).json();
  t.equal(commits.length, 1, "the commit was ingested once");
  const cred = await a.enroll("web-1");
  const fromB = await b.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(cred),
    payload: { facts: facts("web-1") },
  });
  t.equal(fromB.statusCode, 200, "a credential from A works on B");
  const fromA = await a.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(cred),
    payload: { facts: facts("web-1") },
  });
  t.equal(fromA.json().serial, fromB.json().serial, "the serial is shared");
  const r1 = makeReport("web-1", null);
  const r2 = makeReport("web-1", null);
  t.equal(
    (await a.app.inject({ method: "POST", url: "/api/v1/reports", headers: bearer(cred), payload: r1 }))
      .statusCode,
    201,
  );
  t.equal(
    (await b.app.inject({ method: "POST", url: "/api/v1/reports", headers: bearer(cred), payload: r2 }))
      .statusCode,
    201,
  );
  t.equal(
    (await b.app.inject({ method: "POST", url: "/api/v1/reports", headers: bearer(cred), payload: r1 }))
      .statusCode,
    200,
    "a retry to the other server is stored once",
  );
  const reports = (
    await b.app.inject({ url: "/api/v1/nodes/web-1/reports", headers: bearer(b.adminToken) })
  ).json();
  t.equal(reports.length, 2);
});

t.test("PostgreSQL down: 503 with Retry-After, then recovery", { skip: !pgUrl && noPgReason }, async (t) => {
  const db = await pgProxy(pgUrl as string);
  const s = await startTestServer({ storage: postgresStorage(db.url) });
  t.teardown(async () => {
    await s.close();
    db.close();
  });
  const cred = await s.enroll("web-1");
  db.cut();
  const down = await s.app.inject({
    method: "POST",
    url: "/api/v1/reports",
    headers: bearer(cred),
    payload: makeReport("web-1", null),
  });
  t.equal(down.statusCode, 503, down.body);
  t.ok(Number(down.headers["retry-after"]) >= 1, "with a Retry-After");
  t.equal(down.json().code, "TEND_E_UNAVAILABLE");
  await db.restore();
  const up = await s.app.inject({
    method: "POST",
    url: "/api/v1/reports",
    headers: bearer(cred),
    payload: makeReport("web-1", null),
  });
  t.equal(up.statusCode, 201, "recovers without a restart");
});

t.test(
  "advisory locks are per schema: two tend databases side by side never wait on each other",
  { skip: !pgUrl && noPgReason },
  async (t) => {
    const one = postgresStorage(pgUrl!);
    const other = postgresStorage(pgUrl!);
    const [a, a2, b] = await Promise.all([one.open(), one.open(), other.open()]);
    t.teardown(async () => {
      await Promise.all([a.close(), a2.close(), b.close()]);
      await Promise.all([one.cleanup(), other.cleanup()]);
    });
    const inside = await a.withIngestLock(async () => ({
      sameSchema: await a2.withIngestLock(async () => "got it"),
      otherSchema: await b.withIngestLock(async () => "got it"),
    }));
    t.same(
      inside,
      { sameSchema: undefined, otherSchema: "got it" },
      "the same schema waits; another does not",
    );
    t.equal(await a2.withIngestLock(async () => "after"), "after", "released");
  },
);
