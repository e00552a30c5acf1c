import { verify } from "node:crypto";
import t from "tap";
import { canonicalJson } from "../../core/canonical.js";
import { sha256 } from "../../core/hash.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { facts } from "../helpers/server-git.js";
import { makeReport } from "../helpers/server-report.js";
import { testStorages } from "../helpers/server-storage.js";

for (const make of testStorages()) {
  t.test(`the full flow on ${make().name}`, async (t) => {
    const s = await startTestServer({ storage: make() });
    t.teardown(() => s.close());
    const inject = s.app.inject.bind(s.app);

    const token = await s.enrollToken();
    const enrol = await inject({ method: "POST", url: "/api/v1/enroll", payload: { token, node: "web-1" } });
    t.equal(enrol.statusCode, 200, enrol.body);
    const { credential, server_key } = enrol.json();
    t.match(credential, /^tend_node_/);
    t.match(server_key, /BEGIN PUBLIC KEY/);

    const cat = await inject({
      method: "POST",
      url: "/api/v1/catalog",
      headers: bearer(credential),
      payload: { facts: facts("web-1") },
    });
    t.equal(cat.statusCode, 200, cat.body);
    const env = cat.json();
    const live = s.gate.live?.sha;
    t.equal(env.catalog.commit, live, "the catalog names its commit");
    t.equal(env.catalog.node, "web-1");
    t.ok(
      verify(
        null,
        Buffer.from(canonicalJson({ catalog: env.catalog, serial: env.serial })),
        server_key,
        Buffer.from(env.signature, "base64"),
      ),
      "the signature verifies with the key given at enrolment",
    );
    const big = Object.entries(env.catalog.files as Record<string, { size: number; text?: string }>).find(
      ([, f]) => f.size > 1024,
    );
    t.ok(big, "the large file is in the catalog");
    t.equal(big?.[1].text, undefined, "but its content is fetched by hash");

    const again = await inject({
      method: "POST",
      url: "/api/v1/catalog",
      headers: { ...bearer(credential), "if-none-match": cat.headers.etag as string },
      payload: { facts: facts("web-1") },
    });
    t.equal(again.statusCode, 304, "an unchanged catalog is a 304");
    t.equal(again.body, "");

    const file = await inject({
      method: "GET",
      url: `/api/v1/files/${big?.[0]}`,
      headers: bearer(credential),
    });
    t.equal(file.statusCode, 200);
    t.equal(sha256(file.rawPayload), big?.[0], "the file's bytes match its hash");

    const report = makeReport("web-1", live ?? null, { drifted: ["file:/etc/motd"] });
    const post = await inject({
      method: "POST",
      url: "/api/v1/reports",
      headers: bearer(credential),
      payload: report,
    });
    t.equal(post.statusCode, 201, post.body);
    const retry = await inject({
      method: "POST",
      url: "/api/v1/reports",
      headers: bearer(credential),
      payload: report,
    });
    t.equal(retry.statusCode, 200, "a retried report is accepted");
    t.same(retry.json(), { id: report.id, stored: false }, "and stored once");

    const admin = bearer(s.adminToken);
    const nodes = (await inject({ url: "/api/v1/nodes", headers: admin })).json();
    t.match(nodes, [
      { name: "web-1", last_report_id: report.id, last_status: "changed", last_commit: live, drifted: 1 },
    ]);
    const reports = (await inject({ url: "/api/v1/nodes/web-1/reports", headers: admin })).json();
    t.same(
      reports.map((r: { id: string }) => r.id),
      [report.id],
    );
    const full = await inject({ url: `/api/v1/reports/${report.id}`, headers: admin });
    t.same(full.json(), report, "the report comes back whole");
    const drift = (await inject({ url: "/api/v1/drift", headers: admin })).json();
    t.match(drift, [{ node: "web-1", resource: "file:/etc/motd", commit: live }]);
    const commits = (await inject({ url: "/api/v1/commits", headers: admin })).json();
    t.match(commits, [{ sha: live, valid: true, live: true, errors: [] }]);

    const metrics = await inject({ url: "/metrics" });
    t.match(metrics.body, /tend_reports_total\{status="changed"\} 1/);
    t.match(metrics.body, /tend_drifted_resources 1/);
    t.match(
      metrics.body,
      /tend_http_requests_total\{route="\/api\/v1\/catalog",method="POST",status="304"\} 1/,
    );
    t.equal((await inject({ url: "/healthz" })).json().live_commit, live);
    const docs = (await inject({ url: "/api/docs/json" })).json();
    t.ok(docs.paths["/api/v1/nodes/{name}/reports"].get, "OpenAPI lists the routes");
  });
}

t.test("a node gets its own catalog whatever its facts claim (TRUST B2)", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const cred = await s.enroll("db-1");
  const res = await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(cred),
    payload: { facts: { ...facts("web-1"), node: "web-1", fqdn: "web-1.example.com" } },
  });
  t.equal(res.statusCode, 200);
  t.equal(res.json().catalog.node, "db-1");
  t.notOk(
    res.json().catalog.resources.some((r: { id: string }) => r.id === "package:nginx"),
    "no web-* recipes",
  );
  const post = await s.app.inject({
    method: "POST",
    url: "/api/v1/reports",
    headers: bearer(cred),
    payload: makeReport("web-1", null),
  });
  t.equal(post.statusCode, 403, "a node cannot post another node's report");
});

t.test(
  "the catalog serial grows when the catalog changes, and files are only for referencing nodes",
  async (t) => {
    const s = await startTestServer();
    t.teardown(() => s.close());
    const web = await s.enroll("web-1");
    const db = await s.enroll("db-1");
    const get = (cred: string, host: string) =>
      s.app.inject({
        method: "POST",
        url: "/api/v1/catalog",
        headers: bearer(cred),
        payload: { facts: facts(host) },
      });
    const first = (await get(web, "web-1")).json();
    s.repo.commit({
      "base/recipe.yaml": 'description: base\nresources:\n  - file: /etc/motd\n    content: "v2\\n"\n',
    });
    const r = await s.app.inject({ method: "POST", url: "/api/v1/hooks/git", headers: bearer(s.adminToken) });
    t.equal(r.json().valid, true, r.body);
    const second = (await get(web, "web-1")).json();
    t.ok(second.serial > first.serial, "a new catalog has a higher serial");
    t.not(second.catalog.commit, first.catalog.commit);
    await get(db, "db-1");
    const big = Object.keys(second.catalog.files).find((h) => second.catalog.files[h].size > 1024);
    const other = await s.app.inject({ method: "GET", url: `/api/v1/files/${big}`, headers: bearer(db) });
    t.equal(other.statusCode, 404, "db-1's catalog does not reference web-1's file");
  },
);

t.test("incomplete facts are refused, so one node cannot block the fleet's commits", async (t) => {
  const s = await startTestServer({ storage: testStorages()[0]!() });
  t.teardown(() => s.close());
  const token = await s.enrollToken();
  const enrol = await s.app.inject({
    method: "POST",
    url: "/api/v1/enroll",
    payload: { token, node: "evil-1" },
  });
  const { credential } = enrol.json();
  const { fqdn: _dropped, ...partial } = facts("evil-1");
  const cat = await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(credential),
    payload: { facts: partial },
  });
  t.equal(cat.statusCode, 400, cat.body);
  t.match(cat.json().message, /fqdn/);
});
