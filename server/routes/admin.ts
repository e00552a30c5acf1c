/** The read API (the viewer role): nodes, a node's reports, one report, drift across the fleet, commits. */
import type { FastifyInstance } from "fastify";
import type { Deps } from "../deps.js";
import { errorReplies, HttpError, problemSchema } from "../http.js";
import { maxLength } from "../search/parse.js";
import { searchHttpError, searchNodes, staleCut } from "../search/run.js";
import { reportSchema } from "./reports.js";

const nullableString = { type: ["string", "null"] };
const reportSummary = {
  type: "object",
  properties: {
    id: { type: "string" },
    node: { type: "string" },
    commit: nullableString,
    mode: { type: "string" },
    status: { type: "string" },
    started_at: { type: "string" },
    duration_ms: { type: "number" },
    received_at: { type: "integer" },
  },
};
const commit = {
  type: "object",
  properties: {
    sha: { type: "string" },
    valid: { type: "boolean" },
    live: { type: "boolean" },
    summary: { type: "string" },
    seen_at: { type: "integer" },
    errors: { type: "array", items: problemSchema },
  },
};
const limitQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: {
      type: "string",
      pattern: "^[1-9][0-9]{0,2}$",
      description: "At most this many (1-999; default 100).",
    },
  },
};

export function adminRoutes(app: FastifyInstance, d: Deps): void {
  const admin = { auth: "admin" as const, role: "viewer" as const };

  app.get<{ Querystring: { where?: string } }>("/api/v1/nodes", {
    config: admin,
    schema: {
      summary: "Every node with its latest report, or those a fleet search selects",
      querystring: {
        type: "object",
        additionalProperties: false,
        properties: {
          where: {
            type: "string",
            maxLength: maxLength,
            description: "A fleet search (docs/dashboard.md): os.version_id = 12 and package:nginx failed",
          },
        },
      },
      response: {
        200: {
          type: "array",
          items: {
            type: "object",
            properties: {
              name: { type: "string" },
              enrolled_at: { type: "integer" },
              last_seen: { type: ["integer", "null"] },
              last_report_id: nullableString,
              last_report_at: nullableString,
              last_status: nullableString,
              last_commit: nullableString,
              drifted: { type: "integer" },
            },
          },
        },
        ...errorReplies,
      },
    },
    handler: async (req) => {
      if (!req.query.where?.trim()) return d.storage.listNodes();
      try {
        const stale = staleCut(d.now(), d.config.agentIntervalMs);
        return (await searchNodes(d.storage, req.query.where, stale)).rows;
      } catch (err) {
        throw searchHttpError(err);
      }
    },
  });

  app.get<{ Params: { name: string }; Querystring: { limit?: string } }>("/api/v1/nodes/:name/reports", {
    config: admin,
    schema: {
      summary: "A node's reports, newest first",
      params: { type: "object", properties: { name: { type: "string", maxLength: 253 } } },
      querystring: limitQuery,
      response: { 200: { type: "array", items: reportSummary }, ...errorReplies },
    },
    handler: async (req) => {
      if (!(await d.storage.nodeExists(req.params.name)))
        throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "No such node.");
      return d.storage.nodeReports(req.params.name, Number(req.query.limit ?? 100));
    },
  });

  app.get<{ Params: { id: string } }>("/api/v1/reports/:id", {
    config: admin,
    schema: {
      summary: "One report in full",
      params: { type: "object", properties: { id: { type: "string", maxLength: 64 } } },
      response: { 200: reportSchema(), ...errorReplies },
    },
    handler: async (req) => {
      const report = await d.storage.getReport(req.params.id);
      if (!report) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "No such report.");
      return report;
    },
  });

  app.get("/api/v1/drift", {
    config: admin,
    schema: {
      summary: "Resources that drifted in each node's latest report",
      response: {
        200: {
          type: "array",
          items: {
            type: "object",
            properties: {
              node: { type: "string" },
              report_id: { type: "string" },
              commit: nullableString,
              started_at: { type: "string" },
              resource: { type: "string" },
              type: { type: "string" },
              status: { type: "string" },
              changes: { type: "array", items: { type: "object", additionalProperties: true } },
            },
          },
        },
        ...errorReplies,
      },
    },
    handler: async () => d.storage.drift(),
  });

  app.get<{ Querystring: { limit?: string } }>("/api/v1/commits", {
    config: admin,
    schema: {
      summary: "Ingested commits with their validation result, newest first",
      querystring: limitQuery,
      response: { 200: { type: "array", items: commit }, ...errorReplies },
    },
    handler: async (req) => {
      const live = await d.storage.liveCommit();
      return (await d.storage.listCommits(Number(req.query.limit ?? 100))).map((c) => ({
        sha: c.sha,
        valid: c.valid,
        live: c.sha === live,
        summary: c.summary,
        seen_at: c.seen_at,
        errors: c.problems,
      }));
    },
  });
}
