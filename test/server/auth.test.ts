/**
 * The auth matrix (TRUST A1, B1, B4, B6): every route in the live route table × every kind of
 * caller. A route without an auth declaration, or one missing from the expectations below, fails.
 */
import t from "tap";
import { bearer, startTestServer } from "../helpers/server-app.js";
import { facts } from "../helpers/server-git.js";
import { makeReport } from "../helpers/server-report.js";

type Caller = "none" | "bad" | "enroll" | "node" | "other-node" | "admin";
const callers: Caller[] = ["none", "bad", "enroll", "node", "other-node", "admin"];

/** Route → callers that get past auth. */
const allowed: Record<string, Caller[]> = {
  "POST /api/v1/enroll": callers, // the token is in the body
  "POST /api/v1/catalog": ["node", "other-node"],
  "GET /api/v1/files/:sha": ["node", "other-node"],
  "POST /api/v1/reports": ["node", "other-node"],
  "GET /api/v1/nodes": ["admin"],
  "GET /api/v1/nodes/:name/reports": ["admin"],
  "GET /api/v1/reports/:id": ["admin"],
  "GET /api/v1/drift": ["admin"],
  "GET /api/v1/commits": ["admin"],
  "POST /api/v1/hooks/git": ["admin"],
  // The push channel: a node's own stream (another node's is a 404, TRUST B1: push.test.ts), and
  // the admin calls that signal nodes.
  "GET /api/v1/nodes/:name/events": ["node", "other-node"],
  "POST /api/v1/nodes/:name/run": ["admin"],
  "POST /api/v1/signals": ["admin"],
  "GET /healthz": callers,
  "GET /metrics": callers,
  "GET /api/docs/json": callers,
  "GET /install.sh": callers,
  "GET /agent/tend-agent.js": callers,
  "GET /agent/tend-agent.js.sha256": callers,
  "GET /agent/tend-agent.js.sig": callers,
  "GET /agent/server-key.pem": callers,
  // The dashboard: bearer credentials open no page; its session routes answer 303 to the login form.
  "GET /ui": callers,
  "GET /ui/style.css": callers,
  "GET /ui/login": callers,
  "POST /ui/login": callers, // the token is in the form (test/ui/session.test.ts)
  "POST /ui/logout": [],
  "GET /ui/": [],
  "GET /ui/nodes/:name": [],
  "GET /ui/reports/:id": [],
  "GET /ui/drift": [],
  "GET /ui/commits": [],
};

t.test("every route declares its auth and is in the matrix", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  for (const r of s.routes) {
    t.ok(
      ["none", "enroll", "node", "admin", "webhook", "session"].includes(String(r.auth)),
      `${r.method} ${r.url} declares auth`,
    );
    t.ok(allowed[`${r.method} ${r.url}`], `${r.method} ${r.url} is in the auth matrix`);
    t.ok(r.schema?.response, `${r.method} ${r.url} has reply schemas`);
    if (r.method === "POST") t.ok(r.schema && "body" in r.schema, `${r.method} ${r.url} has a body schema`);
  }
  t.equal(s.routes.length, Object.keys(allowed).length, "no route in the matrix is missing from the app");
});

/** A valid secret of the other kind (a node's credential on an admin route, or the reverse). */
function wrongKind(caller: Caller, allowedCallers: string[]): boolean {
  const isNode = caller === "node" || caller === "other-node";
  if (isNode) return allowedCallers.includes("admin");
  return caller === "admin" && allowedCallers.includes("node");
}

t.test("the auth matrix", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const authOf = new Map(s.routes.map((r) => [`${r.method} ${r.url}`, String(r.auth)]));
  const nodeCred = await s.enroll("web-1");
  const otherCred = await s.enroll("web-2");
  const report = makeReport("web-1", s.gate.live?.sha ?? null);
  const secrets: Record<Caller, string | null> = {
    none: null,
    bad: "tend_node_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    enroll: await s.enrollToken({ uses: 100 }),
    node: nodeCred,
    "other-node": otherCred,
    admin: s.adminToken,
  };
  const bodies: Record<string, unknown> = {
    "POST /api/v1/catalog": { facts: facts("web-1") },
    "POST /api/v1/reports": report,
  };
  for (const key of Object.keys(allowed)) {
    const [method, path] = key.split(" ") as [string, string];
    const url = path.replace(":sha", "0".repeat(64)).replace(":name", "web-1").replace(":id", report.id);
    for (const caller of callers) {
      if (key === "POST /api/v1/enroll") continue; // its token is in the body: tested in enroll.test.ts
      const secret = secrets[caller];
      // A stream that opens stays open: read its headers, then hang up.
      const stream = key.endsWith("/events");
      const res = await s.app.inject({
        method: method as "GET",
        url,
        headers: secret ? bearer(secret) : {},
        ...(method === "POST" ? { payload: bodies[key] ?? {} } : {}),
        ...(stream ? { payloadAsStream: true } : {}),
      });
      let text = "";
      if (stream) {
        const body = res.stream();
        if (res.statusCode === 200) body.destroy();
        else for await (const chunk of body) text += String(chunk);
      } else text = res.body;
      const allowedHere = allowed[key]?.includes(caller);
      if (allowedHere) t.not(res.statusCode, 401, `${caller} passes auth on ${key} (${res.statusCode})`);
      else if (path.startsWith("/ui/"))
        t.same(
          [res.statusCode, res.headers.location],
          [303, "/ui/login"],
          `${caller} is sent to log in on ${key}`,
        );
      else if (
        authOf.get(key) !== "webhook" &&
        path.startsWith("/api/") &&
        wrongKind(caller, allowed[key] ?? [])
      )
        t.equal(res.statusCode, 403, `${caller} is authenticated but not allowed on ${key}: 403`);
      else t.equal(res.statusCode, 401, `${caller} gets 401 on ${key}`);
      t.ok(res.statusCode < 500, `${caller} on ${key}: no 5xx (${res.statusCode} ${text.slice(0, 100)})`);
    }
  }
});

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
