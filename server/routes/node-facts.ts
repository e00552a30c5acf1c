/**
 * GET /api/v1/nodes/NAME/facts: the facts the node last sent with its catalog request, for
 * `tend plan DIR --node NAME --facts-from SERVER` (docs/environments.md). The viewer role: the
 * node's page already shows a viewer these facts, they are the node's own report of itself (the
 * server adds nothing secret to them), and planning reads only. A stricter role here would guard
 * nothing the dashboard does not show.
 */
import type { FastifyInstance } from "fastify";
import type { Deps } from "../deps.js";
import { defaultEnvironment } from "../environments.js";
import { errorReplies, HttpError } from "../http.js";

export function nodeFactsRoutes(app: FastifyInstance, d: Deps): void {
  app.get<{ Params: { name: string } }>("/api/v1/nodes/:name/facts", {
    config: { auth: "admin", role: "viewer" },
    schema: {
      summary: "A node's last reported facts, with its environment",
      params: { type: "object", properties: { name: { type: "string", maxLength: 253 } } },
      response: {
        200: {
          type: "object",
          properties: {
            node: { type: "string" },
            facts: { type: "object", additionalProperties: true },
            last_seen: { type: ["integer", "null"] },
            environment: { type: "string" },
          },
        },
        ...errorReplies,
      },
    },
    handler: async (req) => {
      const info = await d.storage.ui.nodeInfo(req.params.name);
      if (!info) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", `No node is named ${req.params.name}.`);
      if (!info.facts) {
        throw new HttpError(
          404,
          "TEND_E_HTTP_NOT_FOUND",
          `${info.name} has not sent facts yet (it sends them with its first catalog request).`,
        );
      }
      const env = await d.storage.nodeEnvironment(info.name);
      return {
        node: info.name,
        facts: info.facts,
        last_seen: info.last_seen,
        environment: env?.environment ?? defaultEnvironment(d),
      };
    },
  });
}
