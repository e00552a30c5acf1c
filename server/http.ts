/**
 * What every route shares: the coded HTTP error, the `{code, message}` reply schema, the route
 * auth declaration, and the request fields the auth plugin fills in.
 */
import type { ErrorCode } from "../core/codes.js";
import type { Problem } from "../core/errors.js";
import type { Principal, Role } from "./roles.js";

/**
 * Who may call a route. `enroll`: the enrolment token travels in the body; `webhook`: an admin
 * token or a signed push; `admin`: an admin token; `session`: a dashboard session cookie
 * (server/ui/session.ts). `admin` and `session` routes also name the least role they need
 * (`config.role`, server/roles.ts); a route that names none needs `admin` (default deny).
 */
export type RouteAuth = "none" | "enroll" | "node" | "admin" | "webhook" | "session";

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: RouteAuth;
    /** `admin` and `session` routes: the least role a caller needs (default `admin`). */
    role?: Role;
    /** A long-lived stream (the push channel): not counted as a request in flight. */
    stream?: boolean;
  }
  interface FastifySchema {
    /** One line for the OpenAPI document. */
    summary?: string;
  }
  interface FastifyRequest {
    /** The node whose credential authenticated the request (node routes only). */
    node: string | null;
    /** The node's catalog serial and digest as read with its credential. */
    nodeCatalog: { serial: number; digest: string | null } | null;
    /** Who is calling (`admin`, `session` and `webhook` routes, once authenticated). */
    principal: Principal | null;
    /** The raw body, kept only where a signature is checked over it. */
    rawBody?: string;
  }
}

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly problems: Problem[] = [],
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** A Retry-After in seconds, jittered so that a fleet does not come back all at once. */
export function jitteredRetryAfter(min = 1, max = 10): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

export const problemSchema = {
  type: "object",
  properties: {
    code: { type: "string" },
    message: { type: "string" },
    file: { type: "string" },
    line: { type: "integer" },
    column: { type: "integer" },
    field: { type: "string" },
  },
  required: ["code", "message"],
} as const;

export const errorSchema = {
  $id: "tend-error",
  type: "object",
  description: "Every error: a stable code (see docs/errors.md) and a sentence.",
  properties: {
    code: { type: "string" },
    message: { type: "string" },
    details: { type: "array", items: problemSchema },
  },
  required: ["code", "message"],
} as const;

/** Error replies every route may give (merged into each route's `response`). */
export const errorReplies = {
  "4xx": { $ref: "tend-error#" },
  "5xx": { $ref: "tend-error#" },
} as const;
