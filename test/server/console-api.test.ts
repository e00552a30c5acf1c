/**
 * The console's API writes, each leaving one audit entry (storage) and one JSON line in the server
 * log: tokens (with the install line), node revocation, run / plan now through the push channel
 * (a recording stand-in for issue 11's, which is not on main) and its absence, re-checking a commit
 * the gate refused once the node that broke it is revoked, accounts, and the git hook.
 */
import { Writable } from "node:stream";
import t from "tap";
import { hashSecret } from "../../server/identity.js";
import type { Signals } from "../../server/signals.js";
import { bearer, startTestServer, type TestServer } from "../helpers/server-app.js";
import { facts } from "../helpers/server-git.js";
import { uiLogin } from "../helpers/ui-session.js";

/** The server's log as parsed JSON lines. */
function logSink() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line));
      }
      done();
    },
  });
  return { lines, raw, logger: { level: "info", stream } };
}

const auditLines = (lines: Record<string, unknown>[]) =>
  lines.filter((l) => l.msg === "audit").map((l) => l.audit as Record<string, unknown>);

async function call(s: TestServer, method: string, url: string, token: string, payload?: unknown) {
  const res = await s.app.inject({
    method: method as "GET",
    url,
    headers: bearer(token),
    ...(payload !== undefined ? { payload: payload as object } : {}),
  });
  return {
    status: res.statusCode,
    body: res.body.startsWith("{") || res.body.startsWith("[") ? res.json() : res.body,
  };
}

t.test("tokens, node revocation and run / plan now: done, recorded, logged", async (t) => {
  const log = logSink();
  const sent: { nodes: string[]; noop: boolean }[] = [];
  const signals: Signals = {
    send: async (nodes, sig) => {
      sent.push({ nodes, noop: sig === "noop" });
      return { id: 1, signal: sig, targets: nodes.length, delivered: nodes.length, queued: 0, spread_ms: 0 };
    },
  };
  const s = await startTestServer({ logger: log.logger, signals });
  t.teardown(() => s.close());
  const adminId = (await s.storage.listTokens())[0]?.hash.slice(0, 12);
  const web1 = await s.enroll("web-1");
  await s.enroll("web-2");

  const made = await call(s, "POST", "/api/v1/tokens", s.adminToken, { kind: "enroll", uses: 2, ttl: "2h" });
  t.equal(made.status, 201);
  t.match(made.body.token, /^tend_enr_/);
  t.match(
    made.body.install,
    /^curl -fsSL http:\/\/localhost:80\/install\.sh \| TEND_TOKEN=tend_enr_\S+ sh -s -- --server http:\/\/localhost:80 --server-key sha256:[0-9a-f]{64}$/,
    "the line to paste, with the server key pinned and the token out of argv",
  );
  const enrolled = await s.app.inject({
    method: "POST",
    url: "/api/v1/enroll",
    payload: { token: made.body.token, node: "web-3" },
  });
  t.equal(enrolled.statusCode, 200, "the token enrols");
  const reenroll = await call(s, "POST", "/api/v1/tokens", s.adminToken, {
    kind: "enroll",
    node: "web-1",
    reenroll: true,
  });
  t.match(reenroll.body.install, / --node web-1$/, "a re-enrolment token's line names its node");
  t.match((await call(s, "POST", "/api/v1/tokens", s.adminToken, { kind: "enroll", reenroll: true })).body, {
    code: "TEND_E_BAD_REQUEST",
    message: /reenroll needs node GLOB/,
  });
  const op = await call(s, "POST", "/api/v1/tokens", s.adminToken, { kind: "admin", role: "operator" });
  t.equal(op.status, 201);
  t.notOk("install" in op.body);
  const listed = await call(s, "GET", "/api/v1/tokens", s.adminToken);
  t.match(
    listed.body.find((x: { id: string }) => x.id === op.body.id),
    { kind: "admin", role: "operator" },
  );
  t.equal(
    (await call(s, "POST", "/api/v1/tokens", op.body.token, { kind: "enroll" })).status,
    403,
    "an operator makes no tokens",
  );
  t.same((await call(s, "DELETE", `/api/v1/tokens/${op.body.id}`, s.adminToken)).body, {
    revoked: op.body.id,
  });
  t.equal(
    (await call(s, "GET", "/api/v1/nodes", op.body.token)).status,
    401,
    "a revoked token opens nothing",
  );

  t.same((await call(s, "POST", "/api/v1/nodes/web-1/revoke", s.adminToken, {})).body, { revoked: "web-1" });
  const after = await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(web1),
    payload: { facts: facts("web-1") },
  });
  t.equal(after.statusCode, 401, "the node's credential no longer works");
  t.equal((await call(s, "POST", "/api/v1/nodes/nobody/revoke", s.adminToken, {})).status, 404);

  const operator = await s.tokenFor("operator");
  const run = await call(s, "POST", "/api/v1/runs", operator, { nodes: ["web-2", "web-1"] });
  t.same([run.status, run.body], [202, { nodes: ["web-1", "web-2"], noop: false }]);
  const plan = await call(s, "POST", "/api/v1/runs", operator, { filter: { q: "WEB-" }, noop: true });
  t.same(plan.body, { nodes: ["web-1", "web-2", "web-3"], noop: true }, "by the fleet page's filter");
  t.same(sent, [
    { nodes: ["web-1", "web-2"], noop: false },
    { nodes: ["web-1", "web-2", "web-3"], noop: true },
  ]);
  t.match((await call(s, "POST", "/api/v1/runs", operator, { nodes: ["web-9"] })).body, {
    code: "TEND_E_HTTP_NOT_FOUND",
    message: /web-9/,
  });
  t.equal((await call(s, "POST", "/api/v1/runs", operator, { nodes: ["web-1"], filter: {} })).status, 400);
  t.equal(
    (await call(s, "POST", "/api/v1/runs", await s.tokenFor("viewer"), { nodes: ["web-1"] })).status,
    403,
  );

  const entries = await s.storage.readAudit({ limit: 50 });
  t.same(
    entries.map((e) => [e.action, e.actor, e.nodes.join(",")]).reverse(),
    [
      ["token.create", `token:${adminId}`, ""],
      ["token.create", `token:${adminId}`, "web-1"],
      ["token.create", `token:${adminId}`, ""],
      ["token.revoke", `token:${adminId}`, ""],
      ["node.revoke", `token:${adminId}`, "web-1"],
      ["nodes.run", `token:${hashSecret(operator).slice(0, 12)}`, "web-1,web-2"],
      ["nodes.plan", `token:${hashSecret(operator).slice(0, 12)}`, "web-1,web-2,web-3"],
    ],
    "one entry per action, in order, with who and on which nodes",
  );
  t.ok(
    entries.every((e) => e.address === "127.0.0.1"),
    "from which address",
  );
  t.match(
    entries.find((e) => e.action === "nodes.run"),
    { role: "operator", details: { count: 2 } },
  );
  const logged = auditLines(log.lines);
  t.equal(logged.length, entries.length, "one JSON log line per action");
  t.match(logged[0], {
    action: "token.create",
    actor: `token:${adminId}`,
    role: "admin",
    address: "127.0.0.1",
    at: /^\d{4}-/,
  });
  const secrets = [made.body.token, reenroll.body.token, op.body.token, s.adminToken];
  t.notOk(
    log.raw.some((l) => secrets.some((x) => l.includes(x))),
    "no secret reaches the log",
  );
  t.notOk(JSON.stringify(entries).includes("tend_"), "nor the audit log");
});

t.test("without the push channel, run and plan say so and record nothing", async (t) => {
  const s = await startTestServer({ signals: null });
  t.teardown(() => s.close());
  await s.enroll("web-1");
  const r = await call(s, "POST", "/api/v1/runs", s.adminToken, { nodes: ["web-1"] });
  t.match(
    [r.status, r.body],
    [503, { code: "TEND_E_PUSH_UNAVAILABLE", message: /push channel is not available/ }],
  );
  t.same(await s.storage.readAudit({ limit: 5 }), []);
});

t.test("re-check: a commit refused because of a node is promoted once that node is revoked", async (t) => {
  const s = await startTestServer({
    recipes: {
      "nodes.yaml": '- name: "*"\n  recipes: [listen]\n',
      "listen/recipe.yaml": "resources:\n  - file: /etc/listen.conf\n    template: listen.liquid\n",
      "listen/templates/listen.liquid": "listen {{ facts.ipv4[0] }}:80\n",
    },
  });
  t.teardown(() => s.close());
  const web = await s.enroll("web-1");
  const old = await s.enroll("old-1");
  const poll = (cred: string, f: Record<string, unknown>) =>
    s.app.inject({ method: "POST", url: "/api/v1/catalog", headers: bearer(cred), payload: { facts: f } });
  await poll(web, { ...facts("web-1"), ipv4: ["10.0.0.5", "10.0.0.6"] });
  await poll(old, facts("old-1"));
  const head = s.repo.commit(
    { "listen/templates/listen.liquid": "listen {{ facts.ipv4[1] }}:80\n" },
    "second address",
  );
  const operator = await s.tokenFor("operator");
  t.match((await call(s, "POST", "/api/v1/hooks/git", operator)).body, { head, valid: false });
  t.equal(
    (await call(s, "POST", `/api/v1/commits/${head}/recheck`, operator, {})).body.valid,
    false,
    "still refused",
  );
  await call(s, "POST", "/api/v1/nodes/old-1/revoke", s.adminToken, {});
  const r = await call(s, "POST", `/api/v1/commits/${head}/recheck`, operator, {});
  t.same(
    [r.status, r.body],
    [200, { commit: head, valid: true, live: head, head, errors: [] }],
    "now valid, and live",
  );
  t.equal((await s.storage.getCommit(head))?.valid, true, "the verdict is replaced");
  t.equal((await call(s, "POST", `/api/v1/commits/${"e".repeat(40)}/recheck`, operator, {})).status, 404);
  t.equal((await call(s, "POST", "/api/v1/commits/head/recheck", operator, {})).body.commit, head);
  t.same((await s.storage.readAudit({ limit: 10 })).map((e) => e.action).reverse(), [
    "hook.git",
    "commit.recheck",
    "node.revoke",
    "commit.recheck",
    "commit.recheck",
  ]);
});

t.test(
  "accounts through the API: created, signed in, changed, removed; passwords never recorded",
  async (t) => {
    const log = logSink();
    const s = await startTestServer({ logger: log.logger });
    t.teardown(() => s.close());
    const password = "a long enough passphrase";
    const created = await call(s, "PUT", "/api/v1/users/carol", s.adminToken, { role: "viewer", password });
    t.match([created.status, created.body], [201, { name: "carol", role: "viewer" }]);
    t.notOk("password_hash" in created.body);
    t.equal(
      (await call(s, "PUT", "/api/v1/users/dave", s.adminToken, { role: "viewer", password: "short" }))
        .status,
      400,
    );
    t.equal(
      (await call(s, "PUT", "/api/v1/users/Bad Name", s.adminToken, { role: "viewer", password })).status,
      400,
    );
    t.ok((await uiLogin(s, { user: "carol", password })).cookie, "carol signs in");
    t.equal((await uiLogin(s, { user: "carol", password: "not her passphrase" })).status, 401);
    t.match((await call(s, "PUT", "/api/v1/users/carol", s.adminToken, { role: "operator" })).body, {
      role: "operator",
    });
    const changed = await call(s, "PUT", "/api/v1/users/carol", s.adminToken, {
      password: "another long passphrase",
    });
    t.equal(changed.status, 200);
    t.equal((await uiLogin(s, { user: "carol", password })).status, 401, "the old password no longer works");
    t.same(
      (await call(s, "GET", "/api/v1/users", s.adminToken)).body.map((u: { name: string }) => u.name),
      ["carol"],
    );
    t.same((await call(s, "DELETE", "/api/v1/users/carol", s.adminToken)).body, { removed: "carol" });
    t.equal((await call(s, "DELETE", "/api/v1/users/carol", s.adminToken)).status, 404);
    const audit = await call(s, "GET", "/api/v1/audit?limit=10", s.adminToken);
    t.same(
      audit.body.map((e: { action: string }) => e.action),
      ["user.remove", "user.password", "user.role", "login", "user.add"],
    );
    t.match(audit.body[3], { actor: "user:carol", role: "viewer" });
    t.equal(
      (await call(s, "GET", "/api/v1/audit", await s.tokenFor("viewer"))).status,
      403,
      "reading the audit log is an admin's",
    );
    t.same((await call(s, "GET", "/api/v1/audit?action=user.role", s.adminToken)).body.length, 1);
    t.notOk(
      log.raw.some((l) => l.includes("passphrase")),
      "no password reaches the log",
    );
    t.notOk(JSON.stringify(audit.body).includes("passphrase"), "nor the audit log");
  },
);
