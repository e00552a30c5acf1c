// Signing in with OIDC (issue 15, optional): the dashboard against a real OpenID Provider —
// oidc-provider, a certified OP implementation — on loopback, its own login and consent pages
// driven over real HTTP with a cookie jar per site, as a browser would. Roles come from the ID
// token's `groups` claim; someone granted none is refused; a forged or replayed callback is refused.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Provider from "oidc-provider";
import t from "tap";
import { loadConfig } from "../../server/config.js";
import { permissionProblems } from "../../server/main.js";
import { freePort } from "../helpers/agent-e2e.js";
import { startTestServer } from "../helpers/server-app.js";
import { openBrowser } from "../helpers/ui-browser.js";

const accounts: Record<string, { email: string; groups?: string[] }> = {
  alice: { email: "alice@example.com", groups: ["ops"] },
  root: { email: "root@example.com", groups: ["ops", "tend-admins"] },
  bob: { email: "bob@example.com", groups: ["finance"] },
  eve: { email: "eve@example.com" },
};

/** Cookies by host, as a browser keeps them (names and values; deletion by Max-Age=0). */
class Jar {
  private readonly byHost = new Map<string, Map<string, string>>();
  header(url: URL): string {
    return [...(this.byHost.get(url.host) ?? new Map()).entries()].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  take(url: URL, res: Response): void {
    const jar = this.byHost.get(url.host) ?? new Map<string, string>();
    this.byHost.set(url.host, jar);
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || /expires=thu, 01 jan 1970/i.test(c))
        jar.delete(name);
      else jar.set(name, pair!.slice(eq + 1).trim());
    }
  }
  get(host: string, name: string): string | undefined {
    return this.byHost.get(host)?.get(name);
  }
}

/** One request with the jar's cookies, no redirect followed. */
async function go(jar: Jar, url: string | URL, init: RequestInit = {}): Promise<Response> {
  const u = new URL(url);
  const res = await fetch(u, {
    ...init,
    redirect: "manual",
    headers: { ...(init.headers as Record<string, string>), cookie: jar.header(u) },
  });
  jar.take(u, res);
  return res;
}

/** The form on an HTML page: its action and its inputs' names and values. */
function formOf(body: string, base: string): { action: URL; fields: Record<string, string> } {
  const action = /<form[^>]*action="([^"]+)"/.exec(body)?.[1] ?? "";
  const fields: Record<string, string> = {};
  for (const m of body.matchAll(/<input[^>]*name="([^"]+)"(?:[^>]*value="([^"]*)")?/g))
    fields[m[1]!] = m[2] ?? "";
  return { action: new URL(action.replaceAll("&amp;", "&"), base), fields };
}

/**
 * From tend's "Sign in with" link through the provider's login and consent pages (logging in as
 * `login`) until the provider sends the browser back to tend; returns that callback response.
 */
async function signIn(jar: Jar, tend: string, login: string): Promise<{ res: Response; url: URL }> {
  let url = new URL("/ui/login/oidc", tend);
  for (let hops = 0; hops < 20; hops++) {
    const res = await go(jar, url);
    if (
      url.pathname === "/ui/login/oidc/callback" ||
      (url.origin === tend && res.status !== 303 && res.status !== 302)
    )
      return { res, url };
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get("location")!, url);
      continue;
    }
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${body.slice(0, 300)}`);
    const form = formOf(body, url.href);
    const fields = { ...form.fields, ...(form.fields.prompt === "login" ? { login, password: "any" } : {}) };
    const posted = await go(jar, form.action, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
    url = new URL(posted.headers.get("location") ?? form.action.href, form.action);
  }
  throw new Error("the sign-in never came back to tend");
}

t.test("signing in with an OIDC provider", async (t) => {
  const idpPort = await freePort();
  // localhost for the provider, 127.0.0.1 for tend: two sites, as in life (SameSite cookies differ).
  const issuer = `http://localhost:${idpPort}`;
  const server = await startTestServer({
    config: {
      oidc: {
        issuer,
        client_id: "tend",
        client_secret_file: "PLACEHOLDER",
        label: "Test IdP",
        scopes: ["openid", "email", "profile", "groups"],
        role_claim: "groups",
        roles: { viewer: ["ops"], operator: ["ops"], admin: ["tend-admins"] },
        name_claim: "email",
      },
    },
  });
  // The secret file beside the server's data: written after start, read at the first sign-in.
  const secretFile = join(server.deps.config.dataDir, "oidc-secret");
  writeFileSync(secretFile, "a-client-secret-of-some-length\n", { mode: 0o600 });
  server.deps.config.oidc!.clientSecretFile = secretFile;
  await server.app.listen({ port: 0, host: "127.0.0.1" });
  const tend = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  server.deps.publicUrl = tend;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "tend",
        client_secret: "a-client-secret-of-some-length",
        redirect_uris: [`${tend}/ui/login/oidc/callback`],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    claims: { openid: ["sub"], email: ["email"], profile: ["preferred_username"], groups: ["groups"] },
    scopes: ["openid", "email", "profile", "groups"],
    findAccount: async (_ctx: unknown, sub: string) =>
      accounts[sub]
        ? { accountId: sub, claims: async () => ({ sub, preferred_username: sub, ...accounts[sub] }) }
        : undefined,
    cookies: { keys: ["a-cookie-signing-key"] },
  } as never);
  const idp = provider.listen(idpPort, "127.0.0.1");
  t.teardown(async () => {
    await new Promise((r) => idp.close(r));
    await server.close();
  });

  t.test("the login page offers the provider", async (t) => {
    const res = await fetch(`${tend}/ui/login`);
    t.match(await res.text(), '<a class="button" href="/ui/login/oidc">Sign in with Test IdP</a>');
  });

  t.test("a person in ops signs in as an operator, in the audit log by their e-mail", async (t) => {
    const jar = new Jar();
    const { res, url } = await signIn(jar, tend, "alice");
    t.equal(url.pathname, "/ui/login/oidc/callback");
    t.equal(res.status, 200, "a page, whose own navigation carries the SameSite=Strict session cookie");
    t.match(res.headers.get("refresh"), "0; url=/ui/");
    t.match(await res.text(), "Signed in as alice@example.com (operator)");
    t.ok(jar.get(new URL(tend).host, "tend_session"), "a session cookie");
    t.notOk(jar.get(new URL(tend).host, "tend_oidc"), "the round trip's cookie is cleared");
    const fleet = await go(jar, `${tend}/ui/`);
    t.equal(fleet.status, 200, "the dashboard opens");
    t.equal((await go(jar, `${tend}/ui/audit`)).status, 403, "an operator is not an admin");
    const entries = await server.storage.readAudit({ limit: 10 });
    t.match(entries[0], { actor: "oidc:alice@example.com", role: "operator", action: "login" });
  });

  t.test("tend-admins get the admin role: the highest granted wins", async (t) => {
    const jar = new Jar();
    const { res } = await signIn(jar, tend, "root");
    t.match(await res.text(), "(admin)");
    const audit = await go(jar, `${tend}/ui/audit`);
    t.equal(audit.status, 200);
    t.match(await audit.text(), "oidc:root@example.com");
  });

  t.test("someone the mapping grants no role is refused, and told why", async (t) => {
    for (const [login, said] of [
      ["bob", "no tend role is granted to groups finance"],
      ["eve", "no tend role is granted to someone without a groups claim"],
    ] as const) {
      const jar = new Jar();
      const { res } = await signIn(jar, tend, login);
      t.equal(res.status, 403, login);
      t.match(await res.text(), said);
      t.notOk(jar.get(new URL(tend).host, "tend_session"), `${login}: no session`);
    }
  });

  t.test("a callback that did not start in this browser, or with another state, is refused", async (t) => {
    const jar = new Jar();
    const { url } = await signIn(jar, tend, "alice");
    // The same provider answer again (a replayed code) in a browser without the round trip's cookie.
    const stranger = await go(new Jar(), url);
    t.equal(stranger.status, 403);
    t.match(await stranger.text(), "expired or did not start here");
    // A fresh round trip, answered with the old state and code.
    const second = new Jar();
    const started = await go(second, `${tend}/ui/login/oidc`);
    t.equal(started.status, 303);
    const forged = await go(second, url);
    t.equal(forged.status, 401);
    t.match(await forged.text(), "was refused");
    t.notOk(second.get(new URL(tend).host, "tend_session"));
  });

  t.test("in a real browser: the provider's pages, then the dashboard, signed in", async (t) => {
    const b = await openBrowser();
    t.teardown(() => b.close());
    const { page } = b;
    await page.goto(`${tend}/ui/login`);
    await b.shot("oidc-1-login");
    t.same(b.problems, [], "tend's login page: no console errors or failed requests");
    await b.follow("a.button");
    t.equal(new URL(page.url()).host, `localhost:${idpPort}`, "at the provider");
    await page.fill("input[name=login]", "root");
    await page.fill("input[name=password]", "any");
    await b.follow("button[type=submit]");
    await b.follow("button[type=submit]"); // the provider's consent page
    await page.waitForURL(`${tend}/ui/`);
    // The provider's own pages ask for web fonts this offline machine cannot fetch: not tend's.
    b.problems.length = 0;
    await b.shot("oidc-2-signed-in");
    t.match(await page.locator("main").textContent(), /Fleet/, "the fleet page, signed in");
    await page.goto(`${tend}/ui/audit`);
    t.match(
      await page.locator("main").textContent(),
      /oidc:root@example\.com/,
      "the login is in the audit log",
    );
    t.same(b.problems, [], "tend's pages: no console errors or failed requests");
  });

  t.test("the provider saying no is shown as such", async (t) => {
    const jar = new Jar();
    await go(jar, `${tend}/ui/login/oidc`);
    const res = await go(jar, `${tend}/ui/login/oidc/callback?error=access_denied&error_description=nope`);
    t.equal(res.status, 401);
    t.match(await res.text(), "Test IdP did not sign you in (access_denied: nope)");
  });
});

t.test("oidc configuration mistakes are said before anything starts", async (t) => {
  t.throws(
    () =>
      loadConfig(undefined, {
        oidc: {
          issuer: "http://login.example.com",
          client_id: "tend",
          client_secret_file: "/x",
          roles: { viewer: ["*"] },
        },
      }),
    { code: "TEND_E_CONFIG", message: /plain http would carry sign-ins in clear/ },
  );
  t.throws(
    () => loadConfig(undefined, { oidc: { issuer: "https://login.example.com", client_id: "tend" } }),
    { code: "TEND_E_CONFIG" },
    "the secret file and the roles are required",
  );
  const dir = mkdtempSync(join(tmpdir(), "tend-oidc-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const secret = join(dir, "secret");
  writeFileSync(secret, "x", { mode: 0o644 });
  const config = loadConfig(undefined, {
    data_dir: join(dir, "data"),
    oidc: {
      issuer: "https://login.example.com",
      client_id: "tend",
      client_secret_file: secret,
      roles: { viewer: ["*"] },
    },
  });
  t.match(
    permissionProblems(config, undefined).join("\n"),
    `the OIDC client secret file ${secret} has mode 0644`,
  );
});
