/**
 * Dashboard login, sessions and CSRF through `inject()`: cookie flags (Secure under TLS), sessions
 * stored by hash, expiry, logout, forms refused without their token, and untrusted report text
 * rendered verbatim and inert (TRUST C5).
 */
import t from "tap";
import { hashSecret, newSecret } from "../../server/identity.js";
import { html } from "../../server/ui/html.js";
import { bearer, startTestServer, type TestServer } from "../helpers/server-app.js";
import { makeReport } from "../helpers/server-report.js";
import { hostile } from "../helpers/ui-fleet.js";

const form = { "content-type": "application/x-www-form-urlencoded" };
const cookiesOf = (res: { headers: Record<string, unknown> }) =>
  [res.headers["set-cookie"] ?? []].flat().map(String);
const value = (cookies: string[], name: string) =>
  cookies
    .find((c) => c.startsWith(`${name}=`))
    ?.split(";")[0]
    ?.slice(name.length + 1);

async function login(s: TestServer, token: string, headers: Record<string, string> = {}) {
  const page = await s.app.inject({ url: "/ui/login", headers });
  const loginCookie = value(cookiesOf(page), "tend_login");
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? "";
  const res = await s.app.inject({
    method: "POST",
    url: "/ui/login",
    headers: { ...form, ...headers, cookie: `tend_login=${loginCookie}` },
    payload: new URLSearchParams({ _csrf: csrf, token }).toString(),
  });
  return { page, res, session: value(cookiesOf(res), "tend_session") };
}

t.test("html escapes every interpolated value unless it is markup the code wrote", async (t) => {
  const x = `"'<b>&`;
  t.equal(
    html`<a title="${x}">${x}</a>`.text,
    '<a title="&quot;&#39;&lt;b&gt;&amp;">&quot;&#39;&lt;b&gt;&amp;</a>',
  );
  t.equal(html`<p>${[html`<i>${"<"}</i>`, null, undefined, false, 0]}</p>`.text, "<p><i>&lt;</i>0</p>");
});

t.test("login: cookies, the login form's CSRF token, and which tokens open a session", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const { page, res, session } = await login(s, s.adminToken);
  t.match(cookiesOf(page)[0], /^tend_login=[^;]+; Path=\/ui; HttpOnly; SameSite=Strict; Max-Age=3600$/);
  t.same([res.statusCode, res.headers.location], [303, "/ui/"]);
  const cookie = cookiesOf(res).find((c) => c.startsWith("tend_session="));
  t.match(
    cookie,
    /; HttpOnly; SameSite=Strict; Max-Age=43200$/,
    "HttpOnly, SameSite=Strict, no Secure over plain HTTP",
  );
  t.ok(session && (await s.storage.ui.getSession(hashSecret(session), Date.now())), "stored by hash");
  t.equal(
    await s.storage.ui.getSession(String(session), Date.now()),
    undefined,
    "the secret itself is not stored",
  );
  const fleet = await s.app.inject({ url: "/ui/", headers: { cookie: `tend_session=${session}` } });
  t.equal(fleet.statusCode, 200);
  t.match(fleet.headers["content-security-policy"], /default-src 'none'/);
  t.equal(fleet.headers["cache-control"], "no-store");

  const node = await s.enroll("web-1");
  for (const [name, token] of [
    ["an enrolment token", await s.enrollToken()],
    ["a node credential", node],
    ["garbage", "<script>"],
  ] as const) {
    const r = await login(s, token);
    t.equal(r.res.statusCode, 401, `${name} opens no session`);
    t.equal(r.session, undefined);
    t.match(r.res.body, /is not valid/);
  }
  const noForm = await s.app.inject({
    method: "POST",
    url: "/ui/login",
    headers: form,
    payload: `token=${s.adminToken}`,
  });
  t.equal(noForm.statusCode, 403, "a login post without the form's token is refused");
  t.equal(value(cookiesOf(noForm), "tend_session"), undefined);
  const bearerOnly = await s.app.inject({ url: "/ui/", headers: bearer(s.adminToken) });
  t.same(
    [bearerOnly.statusCode, bearerOnly.headers.location],
    [303, "/ui/login"],
    "a bearer token is not a session",
  );
});

t.test("the session cookie is Secure under TLS", async (t) => {
  const s = await startTestServer({ config: { behind_tls_proxy: true } });
  t.teardown(() => s.close());
  const { res } = await login(s, s.adminToken, { "x-forwarded-proto": "https" });
  t.match(
    cookiesOf(res).find((c) => c.startsWith("tend_session=")),
    /; Secure$/,
  );
});

t.test("expired sessions, CSRF and logout", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const old = "A".repeat(43);
  await s.storage.ui.createSession({ hash: hashSecret(old), created_at: 0, expires_at: 1 });
  const expired = await s.app.inject({ url: "/ui/", headers: { cookie: `tend_session=${old}` } });
  t.same(
    [expired.statusCode, expired.headers.location],
    [303, "/ui/login"],
    "an expired session opens nothing",
  );

  const { session } = await login(s, s.adminToken);
  const cookie = `tend_session=${session}`;
  const page = await s.app.inject({ url: "/ui/drift", headers: { cookie } });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? "";
  t.ok(csrf.length > 20, "the logout form carries a CSRF token");
  for (const payload of ["", "_csrf=", `_csrf=${csrf}x`]) {
    const r = await s.app.inject({
      method: "POST",
      url: "/ui/logout",
      headers: { ...form, cookie },
      payload,
    });
    t.equal(r.statusCode, 403, `logout with ${JSON.stringify(payload)} is refused`);
  }
  const other = await login(s, s.adminToken);
  const crossed = await s.app.inject({
    method: "POST",
    url: "/ui/logout",
    headers: { ...form, cookie: `tend_session=${other.session}` },
    payload: `_csrf=${csrf}`,
  });
  t.equal(crossed.statusCode, 403, "another session's token is refused");
  const out = await s.app.inject({
    method: "POST",
    url: "/ui/logout",
    headers: { ...form, cookie },
    payload: `_csrf=${csrf}`,
  });
  t.same([out.statusCode, out.headers.location], [303, "/ui/login"]);
  t.match(cookiesOf(out).join(), /tend_session=; .*Max-Age=0/, "the cookie is cleared");
  const after = await s.app.inject({ url: "/ui/", headers: { cookie } });
  t.same([after.statusCode, after.headers.location], [303, "/ui/login"], "the session is gone from storage");
});

t.test("report strings appear verbatim and escaped on every page (TRUST C5)", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const cred = await s.enroll("web-1");
  const report = makeReport("web-1", s.gate.live?.sha ?? null, { drifted: ["file:/etc/motd"] });
  const r0 = report.resources[0];
  if (!r0) throw new Error("no resource");
  Object.assign(r0, {
    diff: `--- a\n+++ b\n-${hostile}\n+ok\n`,
    error: hostile,
    output: hostile,
    changes: [{ property: hostile, from: hostile, to: { [hostile]: hostile } }],
  });
  report.error = hostile;
  const posted = await s.app.inject({
    method: "POST",
    url: "/api/v1/reports",
    headers: bearer(cred),
    payload: report,
  });
  t.equal(posted.statusCode, 201);
  const { session } = await login(s, s.adminToken);
  const escaped =
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text is the point (TRUST C5)
    "{{ 7*7 }} ${7*7} &lt;%= 7*7 %&gt; `id` $(id) &lt;script&gt;window.__pwned=1&lt;/script&gt;";
  for (const url of [`/ui/reports/${report.id}`, "/ui/nodes/web-1"]) {
    const page = await s.app.inject({ url, headers: { cookie: `tend_session=${session}` } });
    t.equal(page.statusCode, 200, url);
    t.ok(page.body.includes(`-${escaped}`), `${url}: the diff line verbatim`);
    t.ok(page.body.includes(`<pre class="error">${escaped}</pre>`), `${url}: the error verbatim`);
    t.notOk(page.body.includes("<script"), `${url}: no markup from the report`);
  }
});

t.test("revoking the admin token that opened a session ends the session", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const { session } = await login(s, s.adminToken);
  const open = await s.app.inject({ url: "/ui/", headers: { cookie: `tend_session=${session}` } });
  t.equal(open.statusCode, 200);
  const { revoked } = await s.storage.revokeToken(hashSecret(s.adminToken).slice(0, 12), Date.now());
  t.equal(revoked.length, 1);
  const after = await s.app.inject({ url: "/ui/", headers: { cookie: `tend_session=${session}` } });
  t.same([after.statusCode, after.headers.location], [303, "/ui/login"]);
});

t.test("a session ends when the admin token it was opened with expires, if that comes first", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const token = newSecret("admin");
  const expiresAt = Date.now() + 90_000;
  await s.storage.createToken({
    hash: hashSecret(token),
    kind: "admin",
    created_at: Date.now(),
    expires_at: expiresAt,
    uses_left: null,
    node_glob: null,
    reenroll: false,
  });
  const { res, session } = await login(s, token);
  t.equal(res.statusCode, 303);
  const maxAge = Number(
    /Max-Age=(\d+)/.exec(cookiesOf(res).find((c) => c.startsWith("tend_session=")) ?? "")?.[1],
  );
  t.ok(maxAge > 0 && maxAge <= 90, `the cookie lasts no longer than the token (Max-Age=${maxAge})`);
  const hash = hashSecret(String(session));
  t.ok(await s.storage.ui.getSession(hash, expiresAt - 1), "open while the token is valid");
  t.equal(await s.storage.ui.getSession(hash, expiresAt), undefined, "closed once the token has expired");
});
