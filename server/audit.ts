/**
 * Recording who did what: every action of the console and every write of the admin API appends
 * one entry to the audit log (storage, append-only) and writes the same entry as one JSON line to
 * the server log (`"msg":"audit"`, the entry under `audit`). `tend server` commands that write to
 * the database directly record themselves as `cli:<unix user>`.
 */
import { userInfo } from "node:os";
import type { FastifyBaseLogger, FastifyRequest } from "fastify";
import { actorName, type Principal } from "./roles.js";
import type { AuditEntry, Storage } from "./storage/types.js";

/** Who acts, from where, and where their log line goes. */
export interface Actor {
  principal: Principal;
  /** The client's address; null for a command run on the server's box. */
  address: string | null;
  log: FastifyBaseLogger | null;
}

export interface AuditAction {
  action: string;
  nodes?: string[];
  details?: Record<string, unknown>;
}

/** The actor of an authenticated request (the auth plugin set its principal). */
export function requestActor(req: FastifyRequest): Actor {
  if (!req.principal) throw new Error("audited request without a principal");
  return { principal: req.principal, address: req.ip, log: req.log };
}

/** A `tend server` command: the Unix user who ran it, with every right the database gives. */
export function cliActor(): Actor {
  let name = "unknown";
  try {
    name = userInfo().username;
  } catch {
    // A uid without a passwd entry (a container): keep "unknown" rather than fail the command.
  }
  return { principal: { kind: "cli", id: name, role: "admin" }, address: null, log: null };
}

export async function audit(storage: Storage, actor: Actor, a: AuditAction, now = Date.now()): Promise<void> {
  const entry: Omit<AuditEntry, "id"> = {
    at: now,
    actor: actorName(actor.principal),
    role: actor.principal.role,
    action: a.action,
    nodes: a.nodes ?? [],
    details: a.details ?? {},
    address: actor.address,
  };
  const id = await storage.appendAudit(entry);
  actor.log?.info({ audit: { id, ...entry, at: new Date(now).toISOString() } }, "audit");
}
