/**
 * The admin API's writes (each recorded in the audit log): tokens, node revocation, run/plan now,
 * re-check a commit. Reading needs `viewer`, fleet actions `operator`, keys and revocation `admin`
 * (server/roles.ts). Accounts and the audit log are in users-api.ts.
 */
import type { FastifyInstance } from "fastify";
import { recheckCommit, revokeNode, signalNodes } from "../actions/fleet.js";
import { installLine, maxSelection, type NodeFilter, selectNodes } from "../actions/select.js";
import { createToken, revokeToken, tokenPrefix, tokenProblem } from "../actions/tokens.js";
import { requestActor } from "../audit.js";
import { parseDuration } from "../config.js";
import type { Deps } from "../deps.js";
import { errorReplies, HttpError, problemSchema } from "../http.js";
import { type Role, roles } from "../roles.js";
import { tokenId } from "../storage/sql/tokens.js";

const admin = { auth: "admin" as const, role: "admin" as const };
const operator = { auth: "admin" as const, role: "operator" as const };
const nameParam = { type: "object", properties: { name: { type: "string", maxLength: 253 } } };
const notFound = (what: string) => new HttpError(404, "TEND_E_HTTP_NOT_FOUND", `No such ${what}.`);
const tokenReply = {
  type: "object",
  properties: {
    id: { type: "string" },
    kind: { type: "string" },
    role: { type: ["string", "null"] },
    created_at: { type: "integer" },
    expires_at: { type: ["integer", "null"] },
    uses_left: { type: ["integer", "null"] },
    node: { type: ["string", "null"] },
    reenroll: { type: "boolean" },
  },
};

export function consoleApiRoutes(app: FastifyInstance, d: Deps): void {
  app.post<{
    Body: {
      kind: "enroll" | "admin";
      role?: Role;
      ttl?: string;
      uses?: number;
      node?: string;
      reenroll?: boolean;
    };
  }>("/api/v1/tokens", {
    config: admin,
    schema: {
      summary: "Create an enrolment token (with its install line) or an admin token; shown once",
      body: {
        type: "object",
        additionalProperties: false,
        required: ["kind"],
        properties: {
          kind: { enum: ["enroll", "admin"] },
          role: { enum: [...roles], description: "An admin token's role (default admin)." },
          ttl: {
            type: "string",
            maxLength: 20,
            description: "Lifetime (30m, 1h, 7d); default 1h for enrolment, none for admin.",
          },
          uses: { type: "integer", minimum: 1, maximum: 1_000_000 },
          node: {
            type: "string",
            minLength: 1,
            maxLength: 253,
            description: "A glob the node name must match.",
          },
          reenroll: { type: "boolean" },
        },
      },
      response: {
        201: {
          type: "object",
          properties: {
            token: { type: "string" },
            id: { type: "string" },
            expires_at: { type: ["integer", "null"] },
            install: { type: "string", description: "Enrolment tokens: the line to paste on a new box." },
          },
        },
        ...errorReplies,
      },
    },
    handler: async (req, reply) => {
      const b = req.body;
      let ttlMs: number | undefined;
      try {
        ttlMs = b.ttl === undefined ? undefined : parseDuration(b.ttl);
      } catch (err) {
        throw new HttpError(400, "TEND_E_BAD_REQUEST", (err as Error).message);
      }
      const o = {
        admin: b.kind === "admin",
        role: b.role,
        ttlMs,
        uses: b.uses,
        node: b.node,
        reenroll: b.reenroll,
      };
      const problem = tokenProblem(o);
      if (problem) throw new HttpError(400, "TEND_E_BAD_REQUEST", problem.replace(/--/g, ""));
      const made = await createToken(d.storage, requestActor(req), o, d.now());
      const install =
        b.kind === "enroll"
          ? installLine(
              req,
              d,
              made.token,
              b.reenroll && b.node && !/[*?[{]/.test(b.node) ? b.node : undefined,
            )
          : undefined;
      return reply.code(201).send({ ...made, ...(install ? { install } : {}) });
    },
  });

  app.get("/api/v1/tokens", {
    config: admin,
    schema: {
      summary: "Every token (by id; never the token itself)",
      response: { 200: { type: "array", items: tokenReply }, ...errorReplies },
    },
    handler: async () =>
      (await d.storage.listTokens()).map((t) => ({
        id: tokenId(t.hash),
        kind: t.kind,
        role: t.kind === "admin" ? t.role : null,
        created_at: t.created_at,
        expires_at: t.expires_at,
        uses_left: t.uses_left,
        node: t.node_glob,
        reenroll: t.reenroll,
      })),
  });

  app.delete<{ Params: { id: string } }>("/api/v1/tokens/:id", {
    config: admin,
    schema: {
      summary: "Revoke a token by its id (12 hex digits or more of its hash)",
      params: { type: "object", properties: { id: { type: "string", maxLength: 200 } } },
      response: { 200: { type: "object", properties: { revoked: { type: "string" } } }, ...errorReplies },
    },
    handler: async (req) => {
      const prefix = tokenPrefix(req.params.id);
      if (!prefix)
        throw new HttpError(400, "TEND_E_BAD_REQUEST", "A token id is 12 to 64 hex digits of its hash.");
      const r = await revokeToken(d.storage, requestActor(req), prefix, d.now());
      if (r.ambiguous)
        throw new HttpError(409, "TEND_E_SERVER_REVOKE", "That id matches several tokens; give more digits.");
      if (!r.revoked) throw notFound("token");
      return { revoked: r.revoked };
    },
  });

  app.post<{ Params: { name: string } }>("/api/v1/nodes/:name/revoke", {
    config: admin,
    schema: {
      summary: "Revoke a node's credential at once (its reports stay)",
      params: nameParam,
      body: { type: "object", additionalProperties: false, properties: {} },
      response: { 200: { type: "object", properties: { revoked: { type: "string" } } }, ...errorReplies },
    },
    handler: async (req) => {
      if (!(await revokeNode(d, requestActor(req), req.params.name))) throw notFound("node");
      return { revoked: req.params.name };
    },
  });

  app.post<{ Body: { nodes?: string[]; filter?: NodeFilter; noop?: boolean } }>("/api/v1/runs", {
    config: operator,
    schema: {
      summary:
        "Ask nodes to run now (noop: plan), by name or by the fleet page's filter (issue 11's push channel)",
      body: {
        type: "object",
        additionalProperties: false,
        properties: {
          nodes: {
            type: "array",
            minItems: 1,
            maxItems: maxSelection,
            items: { type: "string", maxLength: 253 },
          },
          filter: {
            type: "object",
            additionalProperties: false,
            properties: {
              status: { enum: ["changed", "unchanged", "failed", "none"] },
              drifted: { type: "boolean" },
              stale: { type: "boolean" },
              q: { type: "string", maxLength: 253 },
            },
          },
          noop: { type: "boolean" },
        },
      },
      response: {
        202: {
          type: "object",
          properties: { nodes: { type: "array", items: { type: "string" } }, noop: { type: "boolean" } },
        },
        ...errorReplies,
      },
    },
    handler: async (req, reply) => {
      const { nodes, filter, noop = false } = req.body;
      if ((nodes === undefined) === (filter === undefined)) {
        throw new HttpError(
          400,
          "TEND_E_BAD_REQUEST",
          "Give either `nodes` (names) or `filter`, not both and not neither.",
        );
      }
      let names: string[];
      if (nodes) {
        names = [...new Set(nodes)].sort();
        const known = new Set(await selectNodes(d, {}));
        const unknown = names.filter((n) => !known.has(n));
        if (unknown.length)
          throw new HttpError(
            404,
            "TEND_E_HTTP_NOT_FOUND",
            `No such node: ${unknown.slice(0, 10).join(", ")}.`,
          );
      } else names = await selectNodes(d, filter ?? {});
      if (names.length === 0)
        throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "The filter selects no node.");
      await signalNodes(d, requestActor(req), names, noop);
      return reply.code(202).send({ nodes: names, noop });
    },
  });

  app.post<{ Params: { sha: string } }>("/api/v1/commits/:sha/recheck", {
    config: operator,
    schema: {
      summary: "Judge a commit again (or `head`, the branch head) with the nodes' facts as they are now",
      params: {
        type: "object",
        properties: { sha: { type: "string", pattern: "^(head|[0-9a-f]{40}|[0-9a-f]{64})$" } },
      },
      body: { type: "object", additionalProperties: false, properties: {} },
      response: {
        200: {
          type: "object",
          properties: {
            commit: { type: "string" },
            valid: { type: ["boolean", "null"] },
            live: { type: ["string", "null"] },
            head: { type: ["string", "null"] },
            errors: { type: "array", items: problemSchema },
          },
        },
        ...errorReplies,
      },
    },
    handler: async (req) => recheckCommit(d, requestActor(req), req.params.sha),
  });
}
