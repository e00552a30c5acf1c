import t from "tap";
import { request } from "undici";
import { hashSecret, newSecret } from "../../server/identity.js";
import { tokenId } from "../../server/storage/sql/tokens.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { facts } from "../helpers/server-git.js";
import { serverConfigDir, spawnServer, stop, tendServer } from "../helpers/server-process.js";
import { makeReport } from "../helpers/server-report.js";
import { testStorages } from "../helpers/server-storage.js";

for (const make of testStorages()) {
  t.test(`revoking a node on ${make().name}`, async (t) => {
    const s = await startTestServer({ storage: make() });
    t.teardown(() => s.close());
    const inject = s.app.inject.bind(s.app);
    const cred = await s.enroll("web-1");
    const other = await s.enroll("web-2");
    const poll = (c: string, node = "web-1") =>
      inject({ method: "POST", url: "/api/v1/catalog", headers: bearer(c), payload: { facts: facts(node) } });
    t.equal((await poll(cred)).statusCode, 200);
    const report = makeReport("web-1", s.gate.live?.sha ?? null, { drifted: ["file:/etc/motd"] });
    t.equal(
      (await inject({ method: "POST", url: "/api/v1/reports", headers: bearer(cred), payload: report }))
        .statusCode,
      201,
    );

    t.equal(await s.storage.revokeNode("web-1", 1_000), true);
    t.equal(await s.storage.revokeNode("nobody", 1_000), false, "an unknown node is not revoked");
    t.equal((await poll(cred)).statusCode, 401, "the next catalog request is refused");
    const again = makeReport("web-1", null);
    t.equal(
      (await inject({ method: "POST", url: "/api/v1/reports", headers: bearer(cred), payload: again }))
        .statusCode,
      401,
      "the next report is refused",
    );
    t.equal((await poll(other, "web-2")).statusCode, 200, "other nodes are untouched");
    t.same(await s.storage.revocations(10), [{ at: 1_000, kind: "node", subject: "web-1" }], "recorded");
    const nodes = await inject({ method: "GET", url: "/api/v1/nodes", headers: bearer(s.adminToken) });
    t.match(nodes.json(), [{ name: "web-1", last_report_id: report.id }], "its reports stay");

    const plain = await s.enrollToken();
    const refused = await inject({
      method: "POST",
      url: "/api/v1/enroll",
      payload: { token: plain, node: "web-1" },
    });
    t.equal(refused.statusCode, 409, "a plain token cannot take the revoked name");
    const reenroll = await s.enrollToken({ reenroll: true, glob: "web-1" });
    const back = await inject({
      method: "POST",
      url: "/api/v1/enroll",
      payload: { token: reenroll, node: "web-1" },
    });
    t.equal(back.statusCode, 200, back.body);
    t.equal((await poll(back.json().credential)).statusCode, 200, "the new credential works");
    t.equal((await poll(cred)).statusCode, 401, "the revoked one still does not");
  });

  t.test(`revoking tokens on ${make().name}`, async (t) => {
    const s = await startTestServer({ storage: make() });
    t.teardown(() => s.close());
    const inject = s.app.inject.bind(s.app);
    const adminHash = hashSecret(s.adminToken);
    t.equal(
      (await inject({ method: "GET", url: "/api/v1/nodes", headers: bearer(s.adminToken) })).statusCode,
      200,
    );
    t.same(await s.storage.revokeToken(tokenId(adminHash), 5), { revoked: [adminHash], ambiguous: false });
    t.equal(
      (await inject({ method: "GET", url: "/api/v1/nodes", headers: bearer(s.adminToken) })).statusCode,
      401,
      "a revoked admin token opens nothing at its next request",
    );
    const enrol = await s.enrollToken({ uses: 5 });
    t.same((await s.storage.revokeToken(tokenId(hashSecret(enrol)), 6)).revoked.length, 1);
    const res = await inject({
      method: "POST",
      url: "/api/v1/enroll",
      payload: { token: enrol, node: "web-9" },
    });
    t.equal(res.statusCode, 401, "a revoked enrolment token enrols nobody");
    t.same(await s.storage.revokeToken("0123456789ab", 7), { revoked: [], ambiguous: false }, "unknown id");
    t.same(await s.storage.revokeToken("not hex", 7), { revoked: [], ambiguous: false });

    // --all-expired: expired by time or used up; the live ones stay.
    const now = Date.now();
    const mk = async (expires_at: number | null, uses_left: number | null) => {
      const secret = newSecret("enroll");
      await s.storage.createToken({
        hash: hashSecret(secret),
        kind: "enroll",
        created_at: now,
        expires_at,
        uses_left,
        node_glob: null,
        reenroll: false,
      });
      return hashSecret(secret);
    };
    const expired = await mk(now - 1, 1);
    const spent = await mk(now + 60_000, 0);
    const live = await mk(now + 60_000, 1);
    const forever = await mk(null, null);
    const gone = await s.storage.revokeExpiredTokens(now);
    t.same(gone, [expired, spent].sort(), "exactly the expired and used-up tokens");
    const left = (await s.storage.listTokens()).map((x) => x.hash);
    t.ok(left.includes(live) && left.includes(forever), "the live tokens stay");
    t.notOk(left.includes(expired) || left.includes(spent));
    const recorded = await s.storage.revocations(10);
    t.equal(recorded.filter((r) => r.kind === "token").length, 4, "every token revocation is recorded");
    t.ok(
      recorded.some((r) => r.subject === tokenId(expired)),
      "by token id, never the hash",
    );
  });
}

t.test("an id prefix matching several tokens revokes none", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const hashes = (await s.storage.listTokens()).map((x) => x.hash);
  // With enough tokens two share a first hex digit.
  for (let i = 0; i < 20; i++) await s.enrollToken();
  const all = (await s.storage.listTokens()).map((x) => x.hash);
  const first = all.find((h) => all.filter((x) => x[0] === h[0]).length > 1)!;
  t.same(await s.storage.revokeToken(first.slice(0, 1), 1), { revoked: [], ambiguous: true });
  t.equal((await s.storage.listTokens()).length, all.length, "nothing deleted");
  t.ok(hashes.length >= 1);
});

t.test("tend server token|node revoke against a running server", async (t) => {
  const { config } = serverConfigDir(t, "tend-revoke-");
  const created = await tendServer(["token", "create", "--admin", "--config", config]);
  const admin = created.stdout.trim();
  t.match(admin, /^tend_adm_[A-Za-z0-9_-]+$/, "the token alone on stdout");
  const id = tokenId(hashSecret(admin));
  t.match(created.stderr, `token id ${id}`, "its id on stderr");
  const enrolToken = (await tendServer(["token", "create", "--uses", "2", "--config", config])).stdout.trim();
  const p = await spawnServer(config);
  t.teardown(() => stop(p));
  const call = async (method: "GET" | "POST", path: string, token: string, body?: unknown) => {
    const res = await request(`${p.url}${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? JSON.parse(text) : null };
  };
  const enrol = await request(`${p.url}/api/v1/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: enrolToken, node: "web-1" }),
  });
  const cred = ((await enrol.body.json()) as { credential: string }).credential;
  t.equal((await call("POST", "/api/v1/catalog", cred, { facts: facts("web-1") })).status, 200);

  const list = await tendServer(["token", "list", "--config", config]);
  t.match(list.stdout, new RegExp(`^${id}\\tadmin\\t`, "m"), "token list shows the id and kind");
  t.notMatch(list.stdout, hashSecret(admin), "never the whole hash");

  const revoked = await tendServer(["node", "revoke", "web-1", "--config", config]);
  t.match(revoked.stdout, "revoked node web-1");
  t.equal(
    (await call("POST", "/api/v1/catalog", cred, { facts: facts("web-1") })).status,
    401,
    "the running server refuses the node's next request",
  );
  await t.rejects(tendServer(["node", "revoke", "nobody", "--config", config]), /No node named "nobody"/);
  await t.rejects(tendServer(["token", "revoke", "--config", config]), /needs an ID or --all-expired/);
  await t.rejects(tendServer(["token", "revoke", "xyz", "--config", config]), /is not a token id/);

  t.equal((await call("GET", "/api/v1/nodes", admin)).status, 200);
  t.match((await tendServer(["token", "revoke", id, "--config", config])).stdout, `revoked token ${id}`);
  t.equal(
    (await call("GET", "/api/v1/nodes", admin)).status,
    401,
    "the admin token's next request is refused",
  );
  await t.rejects(tendServer(["token", "revoke", id, "--config", config]), /No token has the id/);
  const expired = await tendServer(["token", "revoke", "--all-expired", "--config", config]);
  t.match(
    expired.stderr,
    "0 expired or used-up token(s) revoked",
    "the enrolment token has a use and an hour left",
  );
});
