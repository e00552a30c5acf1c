/**
 * The auth matrix (TRUST A1, B1, B4, B6): every route in the live route table × every kind of
 * caller — no login, a bad secret, each kind of secret, and each role as an admin token and as a
 * dashboard session. A route without an auth declaration, or one missing from the expectations
 * below, fails.
 */
import t from "tap";
import { allows, type Role, roles } from "../../server/roles.js";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { facts } from "../helpers/server-git.js";
import { makeReport } from "../helpers/server-report.js";
import { uiLogin } from "../helpers/ui-session.js";

type Caller = "none" | "bad" | "enroll" | "node" | "other-node" | `token-${Role}` | `session-${Role}`;
const callers: Caller[] = [
  "none",
  "bad",
  "enroll",
  "node",
  "other-node",
  ...roles.map((r) => `token-${r}` as const),
  ...roles.map((r) => `session-${r}` as const),
];

/**
 * Who may call each route: `public`, `node` (a node credential), `api:ROLE` (an admin token of at
 * least ROLE), `webhook` (an operator's token or a signed push), `ui:ROLE` (a dashboard session
 * of at least ROLE). The matrix below turns that into the status every caller must get.
 */
type Access = "public" | "node" | "webhook" | `api:${Role}` | `ui:${Role}`;
const access: Record<string, Access> = {
  "POST /api/v1/enroll": "public", // the token is in the body (enroll.test.ts)
  "POST /api/v1/catalog": "node",
  "GET /api/v1/files/:sha": "node",
  "POST /api/v1/reports": "node",
  "GET /api/v1/nodes": "api:viewer",
  "GET /api/v1/timeline": "api:viewer",
  "GET /api/v1/nodes/:name/reports": "api:viewer",
  "GET /api/v1/reports/:id": "api:viewer",
  "GET /api/v1/drift": "api:viewer",
  "GET /api/v1/commits": "api:viewer",
  "GET /api/v1/environments": "api:viewer",
  "GET /api/v1/nodes/:name/facts": "api:viewer",
  "GET /api/v1/alerts": "api:viewer",
  "POST /api/v1/rollouts": "api:operator",
  "GET /api/v1/rollouts": "api:viewer",
  "GET /api/v1/rollouts/:id": "api:viewer",
  "POST /api/v1/rollouts/:id/abort": "api:operator",
  "POST /api/v1/rollouts/:id/resume": "api:operator",
  "POST /api/v1/hooks/git": "webhook",
  "POST /api/v1/tokens": "api:admin",
  "GET /api/v1/tokens": "api:admin",
  "DELETE /api/v1/tokens/:id": "api:admin",
  "POST /api/v1/nodes/:name/revoke": "api:admin",
  "POST /api/v1/runs": "api:operator",
  "POST /api/v1/commits/:sha/recheck": "api:operator",
  // The push channel: a node's own stream (another node's is a 404, TRUST B1: push.test.ts), and
  // the operator's calls that signal nodes.
  "GET /api/v1/nodes/:name/events": "node",
  "POST /api/v1/nodes/:name/run": "api:operator",
  "POST /api/v1/signals": "api:operator",
  "GET /api/v1/users": "api:admin",
  "PUT /api/v1/users/:name": "api:admin",
  "DELETE /api/v1/users/:name": "api:admin",
  "GET /api/v1/audit": "api:admin",
  "GET /healthz": "public",
  "GET /metrics": "public",
  "GET /api/docs/json": "public",
  "GET /install.sh": "public",
  "GET /agent/tend-agent.js": "public",
  "GET /agent/tend-agent.js.sha256": "public",
  "GET /agent/tend-agent.js.sig": "public",
  "GET /agent/server-key.pem": "public",
  // The dashboard: bearer credentials open no page; without a session its routes answer 303 to the
  // login form, and with too small a role 403.
  "GET /": "public",
  "GET /ui": "public",
  "GET /ui/style.css": "public",
  "GET /ui/login": "public",
  "POST /ui/login": "public", // the secret is in the form (test/ui/session.test.ts)
  "GET /ui/": "ui:viewer",
  "GET /ui/nodes/:name": "ui:viewer",
  "GET /ui/reports/:id": "ui:viewer",
  "GET /ui/drift": "ui:viewer",
  "GET /ui/timeline": "ui:viewer",
  "GET /ui/commits": "ui:viewer",
  "GET /ui/alerts": "ui:viewer",
  "GET /ui/rollouts": "ui:viewer",
  "GET /ui/rollouts/:id": "ui:viewer",
  "POST /ui/rollouts/:id/abort": "ui:operator",
  "POST /ui/rollouts/:id/resume": "ui:operator",
  "GET /ui/audit": "ui:admin",
  "POST /ui/nodes/:name/run": "ui:operator",
  "POST /ui/nodes/:name/plan": "ui:operator",
  "POST /ui/fleet/run": "ui:operator",
  "POST /ui/fleet/plan": "ui:operator",
  "POST /ui/commits/:sha/recheck": "ui:operator",
  "POST /ui/commits/:sha/deploy": "ui:operator",
  "POST /ui/nodes/:name/revoke": "ui:admin",
  "POST /ui/nodes/:name/reenroll-token": "ui:admin",
  "POST /ui/tokens": "ui:admin",
  "POST /ui/logout": "ui:viewer", // last: it ends the caller's session
};

type Expected = "pass" | 401 | 403 | "login";

/** What `caller` must get on a route of this access. */
function expected(a: Access, caller: Caller): Expected {
  if (a === "public") return "pass";
  const role = /^(token|session)-(.+)$/.exec(caller)?.[2] as Role | undefined;
  const isNode = caller === "node" || caller === "other-node";
  const isToken = caller.startsWith("token-");
  if (a.startsWith("ui:")) {
    if (!caller.startsWith("session-") || !role) return "login";
    return allows(role, a.slice(3) as Role) ? "pass" : 403;
  }
  if (a === "node") return isNode ? "pass" : isToken ? 403 : 401;
  if (a === "webhook") return isToken && role ? (allows(role, "operator") ? "pass" : 403) : 401;
  // api:ROLE
  if (isNode) return 403; // a valid secret of the other kind (TRUST B4)
  if (!isToken || !role) return 401;
  return allows(role, a.slice(4) as Role) ? "pass" : 403;
}

t.test("every route declares its auth and role, and is in the matrix", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  for (const r of s.routes) {
    const key = `${r.method} ${r.url}`;
    t.ok(
      ["none", "enroll", "node", "admin", "webhook", "session"].includes(String(r.auth)),
      `${key} declares auth`,
    );
    t.ok(access[key], `${key} is in the auth matrix`);
    const a = access[key] ?? "";
    if (r.auth === "admin" || r.auth === "session") t.equal(r.role, a.split(":")[1], `${key} needs ${a}`);
    t.ok(r.schema?.response, `${key} has reply schemas`);
    if (r.method === "POST" || r.method === "PUT")
      t.ok(r.schema && "body" in r.schema, `${key} has a body schema`);
  }
  t.equal(s.routes.length, Object.keys(access).length, "no route in the matrix is missing from the app");
});

t.test(
  "the auth matrix: every route × every caller (no login, each kind of secret, each role)",
  async (t) => {
    const signalled: string[][] = [];
    const s = await startTestServer({
      signals: {
        send: async (nodes, signal) => {
          signalled.push(nodes);
          return { id: 1, signal, targets: nodes.length, delivered: 0, queued: nodes.length, spread_ms: 0 };
        },
      },
      rollouts: { start: async () => ({ id: "rollout-1" }) },
    });
    t.teardown(() => s.close());
    const live = s.gate.live?.sha ?? "";
    const nodeCred = await s.enroll("web-1");
    const otherCred = await s.enroll("web-2");
    const report = makeReport("web-1", live || null);
    const secrets: Partial<Record<Caller, string>> = {
      bad: "tend_node_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      enroll: await s.enrollToken({ uses: 100 }),
      node: nodeCred,
      "other-node": otherCred,
      "token-admin": s.adminToken,
      "token-operator": await s.tokenFor("operator"),
      "token-viewer": await s.tokenFor("viewer"),
    };
    const sessions: Partial<Record<Caller, { cookie: string; csrf: string }>> = {};
    for (const role of roles) {
      const password = await s.addUser(`${role}-user`, role);
      const login = await uiLogin(s, { user: `${role}-user`, password });
      if (!login.cookie) throw new Error(`login as ${role}: ${login.status}`);
      sessions[`session-${role}`] = { cookie: login.cookie, csrf: login.csrf };
    }
    const bodies: Record<string, unknown> = {
      "POST /api/v1/catalog": { facts: facts("web-1") },
      "POST /api/v1/reports": report,
      "POST /api/v1/tokens": { kind: "enroll" },
      "POST /api/v1/runs": { nodes: ["web-1"] },
      "PUT /api/v1/users/:name": { role: "viewer" },
      "POST /api/v1/signals": { nodes: "nobody-*", signal: "run" },
      "POST /api/v1/rollouts": { nodes: "nobody-*" },
    };
    for (const key of Object.keys(access)) {
      const [method, path] = key.split(" ") as [string, string];
      // Writes aim at names that do not exist, so that no caller's success changes another's answer.
      const write = method !== "GET";
      const url = path
        .replace(
          ":sha",
          path.includes("recheck") || path.includes("deploy")
            ? path.startsWith("/ui/")
              ? live
              : "head"
            : "0".repeat(64),
        )
        .replace(":name", write ? "nobody-9" : "web-1")
        .replace(":id", path.includes("tokens") ? "0".repeat(12) : report.id);
      for (const caller of callers) {
        if (key === "POST /api/v1/enroll") continue; // its token is in the body: tested in enroll.test.ts
        const secret = secrets[caller];
        const session = sessions[caller];
        const ui = path.startsWith("/ui/");
        const headers: Record<string, string> = secret ? bearer(secret) : {};
        if (session) headers.cookie = session.cookie;
        let payload: string | undefined;
        if (write && ui) {
          headers["content-type"] = "application/x-www-form-urlencoded";
          payload = session ? `_csrf=${encodeURIComponent(session.csrf)}` : "";
        } else if (write) payload = JSON.stringify(bodies[key] ?? {});
        if (write && !ui) headers["content-type"] = "application/json";
        // A push stream that opens stays open: read its status, then hang up.
        const stream = key.endsWith("/events");
        const res = await s.app.inject({
          method: method as "GET",
          url,
          headers,
          ...(payload !== undefined ? { payload } : {}),
          ...(stream ? { payloadAsStream: true } : {}),
        });
        let body = "";
        if (stream) {
          const chunks = res.stream();
          if (res.statusCode === 200) chunks.destroy();
          else for await (const chunk of chunks) body += String(chunk);
        } else body = res.body;
        const want = expected(access[key] as Access, caller);
        const got = `${res.statusCode} ${body.slice(0, 120)}`;
        if (want === "pass") {
          // A 403 of the route's own (another node's report, a stale login form) is not auth's.
          const refused =
            res.statusCode === 401 ||
            (res.statusCode === 403 && /This needs the \w+ role|This is an? \w+ route/.test(body)) ||
            (res.headers.location === "/ui/login" && key !== "POST /ui/logout");
          t.notOk(refused, `${caller} passes auth on ${key} (${got})`);
        } else if (want === "login") {
          t.same(
            [res.statusCode, res.headers.location],
            [303, "/ui/login"],
            `${caller} is sent to log in on ${key}`,
          );
        } else t.equal(res.statusCode, want, `${caller} gets ${want} on ${key} (${got})`);
        t.ok(res.statusCode < 500, `${caller} on ${key}: no 5xx (${got})`);
      }
    }
    t.ok(signalled.length > 0, "the operator's and admin's run requests reached the push channel");
  },
);

t.test("another node's objects are indistinguishable from missing ones (TRUST B1)", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const web = await s.enroll("web-1");
  const db = await s.enroll("db-1");
  const cat = await s.app.inject({
    method: "POST",
    url: "/api/v1/catalog",
    headers: bearer(web),
    payload: { facts: facts("web-1") },
  });
  const files = cat.json().catalog.files as Record<string, { size: number }>;
  const big = Object.keys(files).find((h) => (files[h]?.size ?? 0) > 1024)!;
  const theirs = await s.app.inject({ url: `/api/v1/files/${big}`, headers: bearer(db) });
  const missing = await s.app.inject({ url: `/api/v1/files/${"f".repeat(64)}`, headers: bearer(db) });
  t.equal(theirs.statusCode, 404);
  t.equal(theirs.body, missing.body, "same answer as for a file that does not exist");
  for (const path of [
    "../nodes.yaml",
    "..%2fnodes.yaml",
    "%2e%2e/web/recipe.yaml",
    "web/files/big.txt",
    "/etc/passwd",
    "a\0b",
  ]) {
    const res = await s.app.inject({
      url: `/api/v1/files/${encodeURIComponent(path)}`,
      headers: bearer(web),
    });
    t.equal(res.statusCode, 404, `repository path ${JSON.stringify(path)} is not downloadable (TRUST B3/D1)`);
  }
});
