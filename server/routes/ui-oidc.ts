/**
 * Signing in with the OIDC provider (server/oidc.ts): `/ui/login/oidc` sends the browser to the
 * provider with a fresh state, nonce and PKCE challenge (kept in a 10-minute HttpOnly cookie);
 * `/ui/login/oidc/callback` checks what comes back, maps the ID token's claims to a role and opens
 * a session, recorded in the audit log like any login. Rate-limited per address like the password
 * form. Registered only when `oidc:` is configured.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { audit } from "../audit.js";
import type { Deps } from "../deps.js";
import { errorReplies } from "../http.js";
import { OidcClient, type OidcPending } from "../oidc.js";
import type { Principal } from "../roles.js";
import { html } from "../ui/html.js";
import { loginPage } from "../ui/pages/login.js";
import { send } from "../ui/respond.js";
import { cookies, loginCookie, randomToken, setCookie, startSession } from "../ui/session.js";
import { TokenBuckets } from "./enroll.js";

const pendingCookie = "tend_oidc";
const pendingPath = "/ui/login/oidc";
const pendingTtlS = 600;
const page = { response: { 200: { type: "string" }, ...errorReplies } };

function readPending(req: FastifyRequest): OidcPending | null {
  const raw = cookies(req).get(pendingCookie);
  if (!raw || raw.length > 1024) return null;
  try {
    const p = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as Partial<OidcPending>;
    return typeof p.state === "string" && typeof p.nonce === "string" && typeof p.verifier === "string"
      ? { state: p.state, nonce: p.nonce, verifier: p.verifier }
      : null;
  } catch {
    return null;
  }
}

export function uiOidcRoutes(ui: FastifyInstance, d: Deps): void {
  const config = d.config.oidc;
  if (!config) return;
  const oidc = new OidcClient(config);
  const limiter = new TokenBuckets(20, 20 / 60_000);
  const redirectUri = () => `${d.publicUrl}${pendingPath}/callback`;

  /** The sign-in page again, saying what went wrong (the password form stays usable). */
  const refuse = (req: FastifyRequest, reply: FastifyReply, status: number, problem: string) => {
    setCookie(req, reply, pendingCookie, "", 0, { path: pendingPath, sameSite: "Lax" });
    const csrf = randomToken();
    setCookie(req, reply, loginCookie, csrf, 3600);
    return send(
      reply,
      { title: "Sign in", session: null },
      loginPage(csrf, problem, false, config.label),
      status,
    );
  };

  ui.get(pendingPath, { config: { auth: "none" }, schema: page }, async (req, reply) => {
    const wait = limiter.take(req.ip, d.now());
    if (wait > 0) {
      reply.header("retry-after", String(wait));
      return refuse(req, reply, 429, `Too many sign-ins from this address; wait ${wait} s.`);
    }
    let started: Awaited<ReturnType<OidcClient["start"]>>;
    try {
      started = await oidc.start(redirectUri());
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, "oidc: sign-in could not start");
      return refuse(
        req,
        reply,
        502,
        `Signing in with ${config.label} is not possible now: ${(err as Error).message}.`,
      );
    }
    const value = Buffer.from(JSON.stringify(started.pending)).toString("base64url");
    setCookie(req, reply, pendingCookie, value, pendingTtlS, { path: pendingPath, sameSite: "Lax" });
    return reply.redirect(started.url.href, 303);
  });

  ui.get(`${pendingPath}/callback`, { config: { auth: "none" }, schema: page }, async (req, reply) => {
    const pending = readPending(req);
    if (!pending) {
      return refuse(
        req,
        reply,
        403,
        `The sign-in with ${config.label} expired or did not start here (its cookie is missing); try again.`,
      );
    }
    const query = req.query as Record<string, unknown>;
    if (typeof query.error === "string") {
      const said = typeof query.error_description === "string" ? `: ${query.error_description}` : "";
      return refuse(req, reply, 401, `${config.label} did not sign you in (${query.error}${said}).`);
    }
    let who: Awaited<ReturnType<OidcClient["finish"]>>;
    try {
      who = await oidc.finish(new URL(req.url, d.publicUrl), pending);
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, "oidc: sign-in refused");
      return refuse(
        req,
        reply,
        401,
        `The answer from ${config.label} was refused: ${(err as Error).message}.`,
      );
    }
    if (!who.role) {
      req.log.warn({ user: who.name, claim: config.roleClaim }, "oidc: signed in, but granted no role");
      return refuse(
        req,
        reply,
        403,
        `${config.label} signed you in as ${who.name}, but no tend role is granted to ${who.granted.length ? `${config.roleClaim} ${who.granted.join(", ")}` : `someone without a ${config.roleClaim} claim`}; ask an admin to map one in server.yaml (oidc.roles).`,
      );
    }
    const now = d.now();
    const principal: Principal = { kind: "oidc", id: who.name, role: who.role };
    await startSession(req, reply, d.storage, now, `oidc:${who.role}:${who.name}`, null);
    setCookie(req, reply, pendingCookie, "", 0, { path: pendingPath, sameSite: "Lax" });
    await audit(d.storage, { principal, address: req.ip, log: req.log }, { action: "login" }, now);
    // A page, not a redirect: this request came from the provider (another site), so the browser
    // would not send the new SameSite=Strict session cookie along a redirect chain that started
    // there; the page's own navigation to /ui/ is same-site and carries it.
    return send(
      reply.header("refresh", "0; url=/ui/"),
      { title: "Signed in", session: null },
      html`<h1>Signed in</h1><p>Signed in as ${who.name} (${who.role}). <a href="/ui/">Go to the fleet</a>.</p>`,
    );
  });
}
