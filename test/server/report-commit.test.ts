/**
 * Issue 15: a node's report is believed about its commit only if the server served that node a
 * catalog from it. Any other commit is stored as unverified (commit null, the claim kept), so the
 * fleet never counts the node on it — on both databases, and across a restart.
 */
import t from "tap";
import { ServedCommits } from "../../server/served-commits.js";
import { sessionCookie } from "../helpers/alert-server.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { facts } from "../helpers/server-git.js";
import { makeReport } from "../helpers/server-report.js";
import { testStorages } from "../helpers/server-storage.js";

for (const make of testStorages()) {
  t.test(
    `a report's commit is trusted only when it was served to that node, on ${make().name}`,
    async (t) => {
      const s = await startTestServer({ storage: make() });
      t.teardown(() => s.close());
      const live = s.gate.live!.sha;
      const web = await s.enroll("web-1");
      const db = await s.enroll("db-1");
      const post = (cred: string, body: unknown) =>
        s.app.inject({
          method: "POST",
          url: "/api/v1/reports",
          headers: bearer(cred),
          payload: body as object,
        });
      const node = async (name: string) => (await s.storage.listNodes()).find((n) => n.name === name)!;
      const admin = (url: string) => s.app.inject({ url, headers: bearer(s.adminToken) });

      // web-1 never asked for a catalog, yet names the live commit.
      const made = makeReport("web-1", live);
      t.equal((await post(web, made)).statusCode, 201);
      const stored = (await admin(`/api/v1/reports/${made.id}`)).json();
      t.equal(stored.commit, null, "stored without a commit");
      t.equal(stored.unverified_commit, live, "the claim is kept, marked");
      t.equal((await node("web-1")).last_commit, null, "the fleet does not count it on the live commit");
      const cookie = await sessionCookie(s);
      const page = await s.app.inject({ url: `/ui/reports/${made.id}`, headers: { cookie } });
      t.match(page.body, /unverified<\/span> the node named <code title="[0-9a-f]{40}">/);
      t.match((await s.app.inject({ url: "/metrics" })).body, /tend_reports_unverified_commit_total 1\n/);

      // db-1 is served a catalog of the live commit: its report of that commit is believed.
      const cat = await s.app.inject({
        method: "POST",
        url: "/api/v1/catalog",
        headers: bearer(db),
        payload: { facts: facts("db-1") },
      });
      t.equal(cat.statusCode, 200);
      t.equal(cat.json().catalog.commit, live);
      const honest = makeReport("db-1", live);
      t.equal((await post(db, honest)).statusCode, 201);
      t.equal((await admin(`/api/v1/reports/${honest.id}`)).json().commit, live);
      t.equal((await node("db-1")).last_commit, live);

      // A commit served to db-1 is still not web-1's; a made-up one is nobody's.
      const borrowed = makeReport("web-1", live);
      await post(web, borrowed);
      t.equal((await admin(`/api/v1/reports/${borrowed.id}`)).json().unverified_commit, live);
      const invented = makeReport("db-1", "f".repeat(40));
      await post(db, invented);
      const inv = (await admin(`/api/v1/reports/${invented.id}`)).json();
      t.same([inv.commit, inv.unverified_commit], [null, "f".repeat(40)]);

      // Only the server marks a report unverified: the field in a node's body is dropped.
      const cheeky = { ...makeReport("db-1", live), unverified_commit: "e".repeat(40) };
      t.equal((await post(db, cheeky)).statusCode, 201);
      const back = (await admin(`/api/v1/reports/${cheeky.id}`)).json();
      t.equal(back.commit, live);
      t.notOk("unverified_commit" in back, "dropped");

      // A fresh process (another server of the fleet, or after a restart) asks the database.
      const fresh = new ServedCommits(s.storage);
      t.equal(await fresh.wasServed("db-1", live), true);
      t.equal(await fresh.wasServed("web-1", live), false);
    },
  );
}
