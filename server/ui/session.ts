/**
 * Dashboard sessions: an account's name and password, or an admin token, is exchanged once for a
 * random session secret in an HttpOnly, SameSite=Strict cookie (Secure under TLS). The session
 * remembers who opened it and reads their role at every request, so a role change, a removed
 * account or a revoked token takes effect at once. Only the secret's sha256 is stored, so a database
 * leak opens no session. The CSRF token of a session is derived from its secret (a different hash
 * of it), so it needs no storage and cannot be computed from what the database holds.
 */
import { createHash, randomBytes } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { hashSecret, safeEqual } from "../identity.js";
import { isRole, type Principal } from "../roles.js";
import { tokenId } from "../storage/sql/tokens.js";
import type { Storage } from "../storage/types.js";

export const sessionCookie = "tend_session";
export const loginCookie = "tend_login";
/** A session ends this long after login, whatever happens. */
export const sessionTtlMs = 12 * 3_600_000;

export interface UiSession {
  hash: string;
  csrf: string;
  principal: Principal;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The dashboard session (routes with `auth: "session"` only). */
    uiSession: UiSession | null;
  }
}

export function cookies(req: FastifyRequest): Map<string, string> {
  const out = new Map<string, string>();
  const header = req.headers.cookie;
  if (typeof header !== "string") return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

export const csrfFor = (secret: string): string =>
  createHash("sha256").update(`tend-csrf\0${secret}`).digest("base64url");

export const randomToken = (): string => randomBytes(32).toString("base64url");

/**
 * Sets a dashboard cookie: HttpOnly, SameSite=Strict, for /ui, unless `opts` says otherwise (the
 * OIDC round trip's cookie must come back on the provider's redirect, a cross-site navigation: Lax).
 */
export function setCookie(
  req: FastifyRequest,
  reply: FastifyReply,
  name: string,
  value: string,
  maxAgeS: number,
  opts: { path?: string; sameSite?: "Strict" | "Lax" } = {},
) {
  const secure = req.protocol === "https" ? "; Secure" : "";
  const prior = reply.getHeader("set-cookie");
  const list = prior === undefined ? [] : [prior].flat().map(String);
  list.push(
    `${name}=${value}; Path=${opts.path ?? "/ui"}; HttpOnly; SameSite=${opts.sameSite ?? "Strict"}; Max-Age=${maxAgeS}${secure}`,
  );
  reply.header("set-cookie", list);
}

/** The session the request's cookie opens, or null. */
export async function readSession(
  req: FastifyRequest,
  storage: Storage,
  now: number,
): Promise<UiSession | null> {
  const secret = cookies(req).get(sessionCookie);
  if (!secret || !/^[A-Za-z0-9_-]{43}$/.test(secret)) return null;
  const hash = hashSecret(secret);
  const found = await storage.ui.getSession(hash, now);
  const principal = found?.principal ? await sessionPrincipal(storage, found.principal, now) : null;
  return principal ? { hash, csrf: csrfFor(secret), principal } : null;
}

/** Who a session's `principal` column names, with their role now; null when they are gone. */
async function sessionPrincipal(storage: Storage, stored: string, now: number): Promise<Principal | null> {
  const cut = stored.indexOf(":");
  const kind = stored.slice(0, cut);
  const id = stored.slice(cut + 1);
  if (kind === "user") {
    const user = await storage.getUser(id);
    return user ? { kind: "user", id: user.name, role: user.role } : null;
  }
  if (kind === "token") {
    const token = await storage.getToken(id);
    if (token?.kind !== "admin" || (token.expires_at !== null && token.expires_at <= now)) return null;
    return { kind: "token", id: tokenId(token.hash), role: token.role };
  }
  if (kind === "oidc") {
    // `oidc:ROLE:NAME`: the role the provider's claims granted at sign-in, for the session's life.
    const colon = id.indexOf(":");
    const role = id.slice(0, colon);
    return colon > 0 && isRole(role) ? { kind: "oidc", id: id.slice(colon + 1), role } : null;
  }
  return null;
}

/**
 * Starts a session for `principal` (`user:NAME`, `token:HASH` or `oidc:ROLE:NAME`): stores its hash and sets the
 * cookie. It ends with the admin token it was opened with (`tokenExpiresAt`, null for a token that
 * never expires, or an account) if that comes first: a session never outlives its token.
 */
export async function startSession(
  req: FastifyRequest,
  reply: FastifyReply,
  storage: Storage,
  now: number,
  principal: string,
  tokenExpiresAt: number | null,
) {
  const secret = randomToken();
  const expiresAt = Math.min(now + sessionTtlMs, tokenExpiresAt ?? Number.POSITIVE_INFINITY);
  await storage.ui.createSession({
    hash: hashSecret(secret),
    created_at: now,
    expires_at: expiresAt,
    principal,
  });
  setCookie(req, reply, sessionCookie, secret, Math.max(1, Math.ceil((expiresAt - now) / 1000)));
}

export function csrfMatches(expected: string, given: unknown): boolean {
  return typeof given === "string" && safeEqual(expected, given);
}
