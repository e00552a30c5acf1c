/**
 * Authentication, before anything else reads the request: every route declares `config.auth`, and
 * a route without one is refused (default deny). Node credentials and admin tokens are different
 * kinds of secret (by prefix and by table), so neither opens the other's routes. `admin` and
 * `session` routes also need a role (`config.role`, default `admin`): an admin token carries one,
 * a session has its account's or its token's, read again at every request.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { HttpError } from "../http.js";
import { hashSecret } from "../identity.js";
import { actorName, allows, type Principal, type Role } from "../roles.js";
import { tokenId } from "../storage/sql/tokens.js";
import type { Storage } from "../storage/types.js";
import { readSession } from "../ui/session.js";

export function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h !== "string") return null;
  const m = /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(h.trim());
  return m?.[1] ?? null;
}

const unauthorized = () => new HttpError(401, "TEND_E_UNAUTHORIZED", "A valid credential is required.");
/** Authenticated, but with the other kind of secret: the honest answer is 403, not 401. */
const wrongKind = (route: string, use: string) =>
  new HttpError(403, "TEND_E_FORBIDDEN", `This is ${route} route: ${use}.`);
/** Authenticated, with too small a role. */
export const needsRole = (p: Principal, need: Role) =>
  new HttpError(
    403,
    "TEND_E_FORBIDDEN",
    `This needs the ${need} role; ${actorName(p)} has the ${p.role} role.`,
  );

/** The admin token the request carries, as a principal; null when it carries none that is valid. */
export async function tokenPrincipal(
  storage: Storage,
  req: FastifyRequest,
  now: number,
): Promise<Principal | null> {
  const secret = bearer(req);
  if (!secret?.startsWith("tend_adm_")) return null;
  const token = await storage.getToken(hashSecret(secret));
  if (token?.kind !== "admin" || (token.expires_at !== null && token.expires_at <= now)) return null;
  return { kind: "token", id: tokenId(token.hash), role: token.role };
}

export function authPlugin(app: FastifyInstance, storage: Storage, now: () => number): void {
  app.decorateRequest("node", null);
  app.decorateRequest("nodeCatalog", null);
  app.decorateRequest("uiSession", null);
  app.decorateRequest("principal", null);
  app.addHook("onRequest", async (req, reply) => {
    if (reply.sent) return;
    const auth = req.routeOptions.config?.auth;
    if (req.routeOptions.url === undefined) return; // no route matched: the 404 handler answers
    const need = req.routeOptions.config?.role ?? "admin";
    switch (auth) {
      case "none":
      case "enroll":
      case "webhook":
        return;
      case "node": {
        const secret = bearer(req);
        if (!secret?.startsWith("tend_node_")) {
          if (await tokenPrincipal(storage, req, now()))
            throw wrongKind("a node", "call it with a node credential");
          throw unauthorized();
        }
        const node = await storage.authenticateNode(hashSecret(secret));
        if (!node) throw unauthorized();
        req.node = node.name;
        req.nodeCatalog = { serial: node.catalogSerial, digest: node.catalogDigest };
        return;
      }
      case "admin": {
        const p = await tokenPrincipal(storage, req, now());
        if (p) {
          if (!allows(p.role, need)) throw needsRole(p, need);
          req.principal = p;
          return;
        }
        const secret = bearer(req);
        if (secret?.startsWith("tend_node_") && (await storage.authenticateNode(hashSecret(secret))))
          throw wrongKind("an admin", "a node credential cannot call it; use an admin token");
        throw unauthorized();
      }
      case "session": {
        // A dashboard page: no session sends the browser to the login form.
        req.uiSession = await readSession(req, storage, now());
        if (!req.uiSession) return reply.redirect("/ui/login", 303);
        req.principal = req.uiSession.principal;
        if (!allows(req.principal.role, need)) throw needsRole(req.principal, need);
        return;
      }
      default:
        req.log.error({ url: req.routeOptions.url }, "route declares no auth; refused");
        throw unauthorized();
    }
  });
}
