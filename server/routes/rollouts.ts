/**
 * The rollouts API (issue 11; docs/api.md, "Rollouts"): start one (an operator; the body is checked
 * against schemas/rollout-request.schema.json), list them and read one (a viewer), abort or resume
 * one (an operator). Every write is in the audit log.
 */
import type { FastifyInstance } from "fastify";
import requestSchemaJson from "../../schemas/rollout-request.schema.json" with { type: "json" };
import { audit, requestActor } from "../audit.js";
import { parseDuration } from "../config.js";
import type { Deps } from "../deps.js";
import { errorReplies, HttpError } from "../http.js";
import { actorName } from "../roles.js";
import { rolloutSummary, rolloutView } from "../rollouts/view.js";

const { $schema: _s, $id: _i, ...requestSchema } = requestSchemaJson as Record<string, unknown>;

interface RolloutRequest {
  commit?: string;
  nodes?: string;
  canary?: string;
  waves?: number;
  pause?: string;
  timeout?: string;
  noop?: boolean;
}

const operator = { auth: "admin", role: "operator" } as const;
const viewer = { auth: "admin", role: "viewer" } as const;
const idParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: "^[0-9]{1,15}$" } },
} as const;
const rolloutReply = { type: "object", additionalProperties: true } as const;

export function rolloutRoutes(app: FastifyInstance, d: Deps): void {
  const engine = d.deploys.engine;
  const view = async (id: number) => {
    const r = await engine.get(id);
    if (!r) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", `No rollout ${id}.`);
    return rolloutView(r, d.now());
  };

  app.post<{ Body: RolloutRequest }>("/api/v1/rollouts", {
    config: operator,
    schema: {
      summary: "Start a rollout of the live commit: a canary, then waves, each signalled to run now",
      body: requestSchema,
      response: { 201: rolloutReply, ...errorReplies },
    },
    handler: async (req, reply) => {
      const b = req.body;
      const actor = requestActor(req);
      const started = await engine.start({
        commit: b.commit,
        noop: b.noop,
        nodes: b.nodes,
        canary: b.canary,
        waves: b.waves,
        pauseMs: b.pause === undefined ? undefined : parseDuration(b.pause),
        timeoutMs: b.timeout === undefined ? undefined : parseDuration(b.timeout),
        startedBy: actorName(actor.principal),
      });
      const r = await view(Number(started.id));
      await audit(
        d.storage,
        actor,
        {
          action: "rollout.start",
          details: {
            rollout: r.id,
            commit: r.commit,
            noop: r.noop,
            nodes: r.nodes,
            canary: r.canary,
            waves: r.waves.length,
          },
        },
        d.now(),
      );
      return reply.code(201).send(r);
    },
  });

  app.get<{ Querystring: { limit?: string } }>("/api/v1/rollouts", {
    config: viewer,
    schema: {
      summary: "Rollouts, newest first",
      querystring: {
        type: "object",
        additionalProperties: false,
        // Query strings are strings (no type coercion): a number as text.
        properties: {
          limit: {
            type: "string",
            pattern: "^[1-9][0-9]{0,2}$",
            description: "At most this many (1-999; default 50).",
          },
        },
      },
      response: {
        200: { type: "object", properties: { rollouts: { type: "array", items: rolloutReply } } },
        ...errorReplies,
      },
    },
    handler: async (req) => {
      const now = d.now();
      return {
        rollouts: (await engine.list(Number(req.query.limit ?? 50))).map((r) => rolloutSummary(r, now)),
      };
    },
  });

  app.get<{ Params: { id: string } }>("/api/v1/rollouts/:id", {
    config: viewer,
    schema: {
      summary: "One rollout: its waves, each node's state with its report, elapsed time, who started it",
      params: idParams,
      response: { 200: rolloutReply, ...errorReplies },
    },
    handler: async (req) => view(Number(req.params.id)),
  });

  for (const action of ["abort", "resume"] as const) {
    app.post<{ Params: { id: string } }>(`/api/v1/rollouts/:id/${action}`, {
      config: operator,
      schema: {
        summary:
          action === "abort"
            ? "Abort a running or halted rollout: its nodes are served the previous commit again"
            : "Resume a halted rollout: the failed wave runs again, then the rest",
        params: idParams,
        body: { type: "object", additionalProperties: false, properties: {} },
        response: { 200: rolloutReply, ...errorReplies },
      },
      handler: async (req) => {
        const id = Number(req.params.id);
        const actor = requestActor(req);
        if (action === "abort") await engine.abort(id, actorName(actor.principal));
        else await engine.resume(id);
        const r = await view(id);
        await audit(
          d.storage,
          actor,
          { action: `rollout.${action}`, details: { rollout: id, commit: r.commit, state: r.state } },
          d.now(),
        );
        return r;
      },
    });
  }
}
