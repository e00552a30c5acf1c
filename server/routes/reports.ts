/**
 * POST /api/v1/reports: a node's run report, checked against schemas/report.schema.json, stored
 * in one transaction and idempotent on its id. The report must name the authenticated node.
 */
import type { FastifyInstance } from "fastify";
import type { Report } from "../../core/types.js";
// Bundled with the code (a file read relative to this module would not exist in dist/).
import reportSchemaJson from "../../schemas/report.schema.json" with { type: "json" };
import type { Deps } from "../deps.js";
import { DuplicateDetector, duplicateMessage } from "../duplicates.js";
import { errorReplies, HttpError } from "../http.js";
import { keepRawJson, rawJson } from "./raw-json.js";

/** The report schema, as fastify's validator takes it (draft-07, no $id of its own). */
export function reportSchema(): Record<string, unknown> {
  const { $schema: _s, $id: _i, ...schema } = reportSchemaJson as Record<string, unknown>;
  return schema;
}

const stored = {
  type: "object",
  required: ["id", "stored"],
  properties: { id: { type: "string" }, stored: { type: "boolean" } },
} as const;

/**
 * Validated once, by fastify against the route schema (compiled at start-up); stored as the bytes
 * received (no re-serialising); replies serialised by the compiled response schemas.
 */
export function reportRoutes(app: FastifyInstance, d: Deps): void {
  app.register(async (scope) => {
    keepRawJson(scope);
    routes(scope, d);
  });
}

function routes(app: FastifyInstance, d: Deps): void {
  const duplicates = new DuplicateDetector();
  app.post<{ Body: Report }>(
    "/api/v1/reports",
    {
      config: { auth: "node" },
      schema: {
        summary: "Store a run report of the authenticated node (idempotent on id)",
        body: reportSchema(),
        response: {
          200: { ...stored, description: "Stored before (a retry): nothing changed." },
          201: stored,
          ...errorReplies,
        },
      },
    },
    async (req, reply) => {
      const report = req.body;
      if (report.node !== req.node) {
        throw new HttpError(
          403,
          "TEND_E_FORBIDDEN",
          "A node may only post its own reports: `node` must be its own name.",
        );
      }
      // A commit the node was never served is not believed: stored as unverified (issue 15).
      const vetted = await d.served.vetted(report);
      if (vetted.unverified) {
        req.log.warn(
          { node: report.node, report: report.id, commit: vetted.unverified },
          "report names a commit this node was never served; stored with commit null (unverified_commit)",
        );
        d.metrics.unverifiedCommit++;
      }
      const outcome = await d.storage.saveReport(
        vetted.report,
        d.now(),
        vetted.report === report ? rawJson(req) : undefined,
      );
      if (outcome === "conflict") {
        throw new HttpError(
          409,
          "TEND_E_REPORT_CONFLICT",
          "That report id is already taken; give each run a new id.",
        );
      }
      if (outcome === "stored") {
        d.metrics.report(report.status);
        const dup = duplicates.check(report, d.now());
        if (dup) {
          // Both reports stay stored, each whole; the alert is what changes (TRUST I1).
          req.log.warn({ node: dup.node, reports: dup.reports }, duplicateMessage(dup));
          d.metrics.duplicateIdentity(dup.node);
          await d.storage.recordDuplicateIdentity(dup);
        }
        // A report on a rollout's commit moves the rollout on (server/rollouts/). The vetted one: a
        // commit this node was never served is null there, so it counts for no wave (issue 15).
        await d.deploys.engine
          .onReport(vetted.report)
          .catch((err) => req.log.warn({ err: (err as Error).message }, "rollout progress failed"));
      }
      return reply
        .code(outcome === "stored" ? 201 : 200)
        .send({ id: report.id, stored: outcome === "stored" });
    },
  );
}
