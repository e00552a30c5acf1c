/**
 * Making and revoking tokens, shared by `tend server token` (admin/tokens.ts), the API
 * (routes/console-api.ts) and the dashboard (routes/ui-actions.ts): the same rules everywhere,
 * and every one recorded in the audit log. A token is shown once; only its hash is stored.
 */
import { type Actor, audit } from "../audit.js";
import { hashSecret, newSecret } from "../identity.js";
import type { Role } from "../roles.js";
import { tokenId } from "../storage/sql/tokens.js";
import type { Storage } from "../storage/types.js";

export interface TokenOptions {
  admin: boolean;
  /** An admin token's role (default admin). */
  role?: Role;
  /** Lifetime; null: never expires. Default: 1 h for enrolment tokens, none for admin tokens. */
  ttlMs?: number | null;
  /** Uses; null: unlimited. Default: 1 for enrolment tokens. */
  uses?: number | null;
  /** A glob the enrolling node's name must match. */
  node?: string | null;
  /** May re-enrol a name that already has a credential (needs `node`). */
  reenroll?: boolean;
}

/** What is wrong with these options, in a sentence for a person, or null. */
export function tokenProblem(o: TokenOptions): string | null {
  if (o.admin && (o.node || o.uses !== undefined || o.reenroll)) {
    return "--node, --uses and --reenroll apply to enrolment tokens, not to --admin tokens.";
  }
  if (!o.admin && o.role !== undefined) return "--role applies to --admin tokens, not to enrolment tokens.";
  // A re-enrolment token replaces an existing node's credential: without a name glob it could take
  // over any node of the fleet (TRUST A3, B2).
  if (o.reenroll && !o.node) {
    return (
      "--reenroll needs --node GLOB naming the node(s) it may re-enrol (for example --node web-1): " +
      "without it, the token could replace the credential of any node."
    );
  }
  if (o.uses !== undefined && o.uses !== null && (!Number.isInteger(o.uses) || o.uses < 1)) {
    return `--uses must be a whole number of at least 1, not "${o.uses}".`;
  }
  return null;
}

export interface CreatedToken {
  token: string;
  id: string;
  expires_at: number | null;
}

/** Creates the token (the options must pass `tokenProblem`) and records it. */
export async function createToken(
  storage: Storage,
  actor: Actor,
  o: TokenOptions,
  now = Date.now(),
): Promise<CreatedToken> {
  const token = newSecret(o.admin ? "admin" : "enroll");
  const ttl = o.ttlMs !== undefined ? o.ttlMs : o.admin ? null : 3_600_000;
  const expires_at = ttl === null ? null : now + ttl;
  const uses = o.uses !== undefined ? o.uses : o.admin ? null : 1;
  const hash = hashSecret(token);
  await storage.createToken({
    hash,
    kind: o.admin ? "admin" : "enroll",
    created_at: now,
    expires_at,
    uses_left: uses,
    node_glob: o.node ?? null,
    reenroll: o.reenroll === true,
    ...(o.admin ? { role: o.role ?? "admin" } : {}),
  });
  const id = tokenId(hash);
  await audit(
    storage,
    actor,
    {
      action: "token.create",
      nodes: o.reenroll && o.node ? [o.node] : [],
      details: {
        id,
        kind: o.admin ? "admin" : "enroll",
        ...(o.admin
          ? { role: o.role ?? "admin" }
          : { uses, node: o.node ?? null, reenroll: o.reenroll === true }),
        expires_at,
      },
    },
    now,
  );
  return { token, id, expires_at };
}

/** Revokes the one token whose hash starts with `prefix` (hex); records it when one was. */
export async function revokeToken(
  storage: Storage,
  actor: Actor,
  prefix: string,
  now = Date.now(),
): Promise<{ revoked: string | null; ambiguous: boolean }> {
  const result = await storage.revokeToken(prefix, now);
  const [hash] = result.revoked;
  if (hash === undefined) return { revoked: null, ambiguous: result.ambiguous };
  await audit(storage, actor, { action: "token.revoke", details: { id: tokenId(hash) } }, now);
  return { revoked: tokenId(hash), ambiguous: false };
}

/** A token given as itself, its hash, or an id (12+ hex digits) → the hash prefix; null if none. */
export function tokenPrefix(given: string): string | null {
  const prefix = /^tend_(enr|adm)_/.test(given) ? hashSecret(given) : given.toLowerCase();
  return /^[0-9a-f]{12,64}$/.test(prefix) ? prefix : null;
}
