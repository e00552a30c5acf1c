/**
 * The fleet-wide timeline: `GET /api/v1/timeline?window=1h|24h|7d|30d` and its page
 * `/ui/timeline` (both the viewer role).
 */
import type { FastifyInstance } from "fastify";
import type { Deps } from "../deps.js";
import { errorReplies } from "../http.js";
import { timelinePage, windowParam, windows } from "../ui/pages/timeline.js";
import { send } from "../ui/respond.js";

const windowQuery = {
  type: "object",
  additionalProperties: false,
  properties: { window: { enum: Object.keys(windows), description: "The window (default 24h)." } },
};

export function timelineApiRoutes(app: FastifyInstance, d: Deps): void {
  app.get<{ Querystring: { window?: string } }>("/api/v1/timeline", {
    config: { auth: "admin", role: "viewer" },
    schema: {
      summary: "Runs, failures and drift repairs per hour (per 5 minutes over 1h) across the fleet",
      querystring: windowQuery,
      response: {
        200: {
          type: "object",
          properties: {
            window: { type: "string" },
            bucket_s: { type: "integer" },
            buckets: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  start: { type: "string" },
                  runs: { type: "integer" },
                  failed: { type: "integer" },
                  drifted: { type: "integer" },
                  changed: { type: "integer" },
                },
              },
            },
          },
        },
        ...errorReplies,
      },
    },
    handler: async (req) => {
      const name = windowParam(req.query.window);
      const w = windows[name];
      const buckets = await d.storage.ui.timeline(w.ms, w.bucket, d.now());
      return {
        window: name,
        bucket_s: w.bucket / 1000,
        buckets: buckets.map((b) => ({ ...b, start: new Date(b.start).toISOString() })),
      };
    },
  });
}

/** Registered inside the dashboard's plugin (routes/ui.ts), behind its session check. */
export function timelineUiRoutes(ui: FastifyInstance, d: Deps): void {
  ui.get(
    "/ui/timeline",
    {
      config: { auth: "session", role: "viewer" },
      schema: { response: { 200: { type: "string" }, ...errorReplies } },
    },
    async (req, reply) => {
      const name = windowParam((req.query as Record<string, unknown>).window);
      const body = await timelinePage(d.storage, name, d.now());
      return send(reply, { title: "Timeline", session: req.uiSession, nav: "fleet" }, body);
    },
  );
}
