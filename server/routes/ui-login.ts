/**
 * Signing in and out of the dashboard. A user name and password (scrypt, server/passwords.ts) or
 * an admin token opens a session; attempts are rate-limited per address, and an unknown name,
 * a wrong password and a bad token get the same answer. A login is recorded in the audit log.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { audit } from "../audit.js";
import type { Deps } from "../deps.js";
import { errorReplies } from "../http.js";
import { hashSecret } from "../identity.js";
import { verifyPassword } from "../passwords.js";
import type { Principal } from "../roles.js";
import { tokenId, tokenSessionKey } from "../storage/sql/tokens.js";
import { userSessionKey } from "../storage/sql/users.js";
import { loginPage } from "../ui/pages/login.js";
import { send } from "../ui/respond.js";
import {
  cookies,
  csrfMatches,
  loginCookie,
  randomToken,
  readSession,
  sessionCookie,
  setCookie,
  startSession,
} from "../ui/session.js";
import { TokenBuckets } from "./enroll.js";

const page = { response: { 200: { type: "string" }, ...errorReplies } };
const loginForm = {
  type: "object",
  properties: {
    user: { type: "string", maxLength: 200 },
    password: { type: "string", maxLength: 1024 },
    token: { type: "string", maxLength: 400 },
    _csrf: { type: "string", maxLength: 100 },
  },
};
const refused = "That user name and password, or that admin token, is not valid.";

export function uiLoginRoutes(ui: FastifyInstance, d: Deps): void {
  // Each attempt costs a 32 MiB scrypt: 20 in a burst, then one every 3 s, per address.
  const limiter = new TokenBuckets(20, 20 / 60_000);

  const showLogin = (req: FastifyRequest, reply: FastifyReply, problem: string | null, status: number) => {
    const csrf = randomToken();
    setCookie(req, reply, loginCookie, csrf, 3600);
    const tokenTried = Boolean((req.body as { token?: string } | undefined)?.token);
    return send(
      reply,
      { title: "Sign in", session: null },
      loginPage(csrf, problem, tokenTried, d.config.oidc?.label ?? null),
      status,
    );
  };

  ui.get("/ui/login", { config: { auth: "none" }, schema: page }, async (req, reply) => {
    if (await readSession(req, d.storage, d.now())) return reply.redirect("/ui/", 303);
    return showLogin(req, reply, null, 200);
  });

  ui.post<{ Body: { user?: string; password?: string; token?: string; _csrf?: string } }>(
    "/ui/login",
    { config: { auth: "none" }, schema: { body: loginForm, ...page } },
    async (req, reply) => {
      const expected = cookies(req).get(loginCookie);
      if (!expected || !csrfMatches(expected, req.body?._csrf)) {
        return showLogin(req, reply, "The form expired or did not come from this page; try again.", 403);
      }
      const wait = limiter.take(req.ip, d.now());
      if (wait > 0) {
        reply.header("retry-after", String(wait));
        return showLogin(req, reply, `Too many attempts from this address; wait ${wait} s.`, 429);
      }
      const now = d.now();
      const token = (req.body?.token ?? "").trim();
      let who: Principal | null = null;
      let stored = "";
      let expiresAt: number | null = null;
      if (token) {
        const record = token.startsWith("tend_adm_")
          ? await d.storage.getToken(hashSecret(token))
          : undefined;
        if (record?.kind === "admin" && (record.expires_at === null || record.expires_at > now)) {
          who = { kind: "token", id: tokenId(record.hash), role: record.role };
          stored = tokenSessionKey(record.hash);
          expiresAt = record.expires_at;
        }
      } else {
        const name = (req.body?.user ?? "").trim().toLowerCase();
        const user = name ? await d.storage.getUser(name) : undefined;
        // Checked even when there is no such user (against a dummy hash): same work, same answer.
        if ((await verifyPassword(user?.password_hash, req.body?.password ?? "")) && user) {
          who = { kind: "user", id: user.name, role: user.role };
          stored = userSessionKey(user.name);
        }
      }
      if (!who) {
        req.log.warn(
          { user: token ? undefined : String(req.body?.user ?? "").slice(0, 64) },
          "dashboard login refused",
        );
        return showLogin(req, reply, refused, 401);
      }
      await startSession(req, reply, d.storage, now, stored, expiresAt);
      setCookie(req, reply, loginCookie, "", 0);
      await audit(d.storage, { principal: who, address: req.ip, log: req.log }, { action: "login" }, now);
      return reply.redirect("/ui/", 303);
    },
  );

  ui.post(
    "/ui/logout",
    { config: { auth: "session", role: "viewer" }, schema: { body: loginForm, ...page } },
    async (req, reply) => {
      if (req.uiSession) await d.storage.ui.deleteSession(req.uiSession.hash);
      setCookie(req, reply, sessionCookie, "", 0);
      return reply.redirect("/ui/login", 303);
    },
  );
}
