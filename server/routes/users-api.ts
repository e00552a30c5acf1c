/**
 * Accounts and the audit log through the API, for admins: list, create or change (role, password),
 * remove accounts (each recorded), and read the audit log newest first.
 */
import type { FastifyInstance } from "fastify";
import { addUser, changeUser, noSuchUser, removeUser, userNamePattern } from "../actions/users.js";
import { requestActor } from "../audit.js";
import type { Deps } from "../deps.js";
import { errorReplies, HttpError } from "../http.js";
import { type Role, roles } from "../roles.js";

const admin = { auth: "admin" as const, role: "admin" as const };
const nameParam = { type: "object", properties: { name: { type: "string", maxLength: 200 } } };
const user = {
  type: "object",
  properties: {
    name: { type: "string" },
    role: { type: "string" },
    created_at: { type: "integer" },
    changed_at: { type: "integer" },
  },
};

export function usersApiRoutes(app: FastifyInstance, d: Deps): void {
  app.get("/api/v1/users", {
    config: admin,
    schema: {
      summary: "Every account with its role",
      response: { 200: { type: "array", items: user }, ...errorReplies },
    },
    handler: async () =>
      (await d.storage.listUsers()).map(({ name, role, created_at, changed_at }) => ({
        name,
        role,
        created_at,
        changed_at,
      })),
  });

  app.put<{ Params: { name: string }; Body: { role?: Role; password?: string } }>("/api/v1/users/:name", {
    config: admin,
    schema: {
      summary: "Create an account (role and password) or change its role and/or password",
      params: nameParam,
      body: {
        type: "object",
        additionalProperties: false,
        properties: { role: { enum: [...roles] }, password: { type: "string", maxLength: 1024 } },
      },
      response: { 200: user, 201: user, ...errorReplies },
    },
    handler: async (req, reply) => {
      const { name } = req.params;
      const actor = requestActor(req);
      const existing = await d.storage.getUser(name);
      if (!existing) {
        if (!new RegExp(userNamePattern).test(name) || !req.body.role || req.body.password === undefined) {
          throw new HttpError(
            400,
            "TEND_E_BAD_REQUEST",
            "A new account needs a valid name (lower-case letters, digits, . _ -), a role and a password.",
          );
        }
        await addUser(d.storage, actor, { name, role: req.body.role, password: req.body.password }, d.now());
      } else await changeUser(d.storage, actor, name, req.body, d.now());
      const u = await d.storage.getUser(name);
      if (!u) throw noSuchUser(name);
      return reply
        .code(existing ? 200 : 201)
        .send({ name: u.name, role: u.role, created_at: u.created_at, changed_at: u.changed_at });
    },
  });

  app.delete<{ Params: { name: string } }>("/api/v1/users/:name", {
    config: admin,
    schema: {
      summary: "Remove an account (its sessions end)",
      params: nameParam,
      response: { 200: { type: "object", properties: { removed: { type: "string" } } }, ...errorReplies },
    },
    handler: async (req) => {
      await removeUser(d.storage, requestActor(req), req.params.name, d.now());
      return { removed: req.params.name };
    },
  });

  app.get<{ Querystring: { limit?: string; before?: string; action?: string } }>("/api/v1/audit", {
    config: admin,
    schema: {
      summary: "The audit log, newest first: who did what, to which nodes, when, from where",
      querystring: {
        type: "object",
        additionalProperties: false,
        properties: {
          limit: {
            type: "string",
            pattern: "^[1-9][0-9]{0,2}$",
            description: "At most this many (default 100).",
          },
          before: {
            type: "string",
            pattern: "^[1-9][0-9]{0,17}$",
            description: "Entries older than this id.",
          },
          action: { type: "string", maxLength: 64, description: "Only this action (e.g. node.revoke)." },
        },
      },
      response: {
        200: {
          type: "array",
          items: {
            type: "object",
            properties: {
              id: { type: "integer" },
              at: { type: "integer" },
              actor: { type: "string" },
              role: { type: "string" },
              action: { type: "string" },
              nodes: { type: "array", items: { type: "string" } },
              details: { type: "object", additionalProperties: true },
              address: { type: ["string", "null"] },
            },
          },
        },
        ...errorReplies,
      },
    },
    handler: async (req) =>
      d.storage.readAudit({
        limit: Number(req.query.limit ?? 100),
        before: req.query.before ? Number(req.query.before) : undefined,
        action: req.query.action,
      }),
  });
}
