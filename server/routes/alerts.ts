/** GET /api/v1/alerts (a viewer's token or more): open conditions, the sinks' health, the newest deliveries. */
import type { FastifyInstance } from "fastify";
import type { Deps } from "../deps.js";
import { errorReplies } from "../http.js";

const nullableString = { type: ["string", "null"] };
const nullableInt = { type: ["integer", "null"] };

const condition = {
  type: "object",
  properties: {
    kind: { type: "string" },
    subject: { type: "string" },
    node: nullableString,
    state: { type: "string", description: "open, or clearing (held for the flap window)" },
    opened_at: { type: "integer" },
    clear_at: nullableInt,
    flaps: { type: "integer" },
    summary: { type: "string" },
    details: { type: "object", additionalProperties: true },
  },
};

const delivery = {
  type: "object",
  properties: {
    id: { type: "string" },
    sink: { type: "string" },
    dedup_key: { type: "string" },
    action: { type: "string" },
    state: { type: "string", description: "pending, sent, failed" },
    created_at: { type: "integer" },
    done_at: nullableInt,
    attempts: { type: "integer" },
    next_at: { type: "integer" },
    last_status: nullableInt,
    last_error: nullableString,
  },
};

const sink = {
  type: "object",
  properties: {
    name: { type: "string" },
    type: { type: "string" },
    where: { type: "string" },
    on: { type: "array", items: { type: "string" } },
    pending: { type: "integer" },
    paused_until: { type: "integer" },
    last_ok_at: nullableInt,
    last_error: nullableString,
  },
};

export function alertRoutes(app: FastifyInstance, d: Deps): void {
  app.get("/api/v1/alerts", {
    config: { auth: "admin", role: "viewer" },
    schema: {
      summary: "Open alert conditions, the sinks' health and the newest deliveries",
      response: {
        200: {
          type: "object",
          properties: {
            conditions: { type: "array", items: condition },
            sinks: { type: "array", items: sink },
            deliveries: { type: "array", items: delivery },
          },
        },
        ...errorReplies,
      },
    },
    handler: async () => {
      const a = d.storage.alerts;
      const [conditions, deliveries, depth, states] = await Promise.all([
        a.openConditions(1000),
        a.recentDeliveries(100),
        a.outboxDepth(),
        a.sinkStates(),
      ]);
      const state = new Map(states.map((s) => [s.name, s]));
      return {
        conditions,
        sinks: d.alerts.sinks.map((s) => ({
          name: s.name,
          type: s.type,
          where: s.where,
          on: s.on,
          pending: depth[s.name] ?? 0,
          paused_until: state.get(s.name)?.paused_until ?? 0,
          last_ok_at: state.get(s.name)?.last_ok_at ?? null,
          last_error: state.get(s.name)?.last_error ?? null,
        })),
        deliveries: deliveries.map((x) => ({ ...x, dedup_key: `tend/${x.subject}/${x.kind}` })),
      };
    },
  });
}
