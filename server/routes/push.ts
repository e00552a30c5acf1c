/**
 * The push channel's routes (docs/api.md, "Push channel"): a node's own event stream, and the admin
 * calls that signal one node or many. A signal only says "run now" (or "in noop", or "a new commit
 * is live"); the agent then pulls its signed catalog as on schedule.
 */
import type { Socket } from "node:net";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { audit, requestActor } from "../audit.js";
import type { Deps } from "../deps.js";
import { errorReplies, HttpError } from "../http.js";
import { hashSecret } from "../identity.js";
import { bearer } from "../plugins/auth.js";
import { lastEventId, SIGNAL_KINDS, type SignalKind } from "../push/events.js";
import type { SendResult } from "../push/signals.js";

const sendResult = {
  type: "object",
  properties: {
    id: { type: "integer", description: "The signal's id (SSE `id:`); 0 when it had no target." },
    signal: { type: "string" },
    targets: { type: "integer", description: "Enrolled, not revoked nodes it is for." },
    delivered: { type: "integer", description: "Nodes whose stream it was written to." },
    queued: {
      type: "integer",
      description: "Nodes not connected now: they get it if they reconnect within push.replay.",
    },
    spread_ms: { type: "integer", description: "Agents start within this many ms of it." },
  },
};

const operator = { auth: "admin" as const, role: "operator" as const };

const nameParams = {
  type: "object",
  properties: { name: { type: "string", maxLength: 253 } },
};

export function pushRoutes(app: FastifyInstance, d: Deps): void {
  app.get<{ Params: { name: string } }>("/api/v1/nodes/:name/events", {
    config: { auth: "node", stream: true },
    schema: {
      summary: "The node's push stream: Server-Sent Events naming signals, never carrying resources",
      params: nameParams,
      headers: {
        type: "object",
        properties: { "last-event-id": { type: "string", maxLength: 40 } },
      },
      response: {
        200: { type: "string", description: "text/event-stream, open until either side ends it." },
        ...errorReplies,
      },
    },
    handler: async (req, reply) => {
      // Another node's stream is answered as a missing node's (TRUST B1).
      if (req.params.name !== req.node) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "No such node.");
      const credential = hashSecret(bearer(req)!);
      reply.hijack();
      const res = reply.raw;
      // The server's 30 s inactivity timeout is for requests, not for a stream that may stay quiet
      // between heartbeats; TCP keep-alive finds a peer that vanished.
      // (Optional calls: `inject()`'s stand-in socket has none of these.)
      const socket = req.raw.socket as Partial<Socket>;
      socket.setTimeout?.(0);
      socket.setKeepAlive?.(true, 60_000);
      socket.setNoDelay?.(true);
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        // nginx and similar proxies pass the stream on as it comes instead of buffering it.
        "x-accel-buffering": "no",
      });
      await d.push.open(req.node, credential, lastEventId(req.headers["last-event-id"]), res);
    },
  });

  // Recorded in the audit log as the console's run and plan are (server/actions/fleet.ts).
  const record = (req: FastifyRequest, r: SendResult, nodes: string[], glob?: string) =>
    audit(
      d.storage,
      requestActor(req),
      {
        action: r.signal === "noop" ? "nodes.plan" : r.signal === "run" ? "nodes.run" : "nodes.signal",
        nodes,
        details: {
          signal: r.signal,
          id: r.id,
          targets: r.targets,
          delivered: r.delivered,
          ...(glob ? { glob } : {}),
        },
      },
      d.now(),
    );

  app.post<{ Params: { name: string }; Body: { noop?: boolean } }>("/api/v1/nodes/:name/run", {
    config: operator,
    schema: {
      summary: "Signal one node to run now (or plan, with noop)",
      params: nameParams,
      body: {
        type: "object",
        additionalProperties: false,
        properties: {
          noop: { type: "boolean", description: "Run in noop: plan and report, change nothing." },
        },
      },
      response: { 200: sendResult, ...errorReplies },
    },
    handler: async (req) => {
      const result = await d.push.send([req.params.name], req.body?.noop ? "noop" : "run");
      if (result.targets === 0) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "No such node.");
      await record(req, result, [req.params.name]);
      return result;
    },
  });

  app.post<{ Body: { nodes: string | string[]; signal: SignalKind } }>("/api/v1/signals", {
    config: operator,
    schema: {
      summary: "Signal every node matching a glob, or a list of nodes",
      body: {
        type: "object",
        additionalProperties: false,
        required: ["nodes", "signal"],
        properties: {
          nodes: {
            description: 'A glob on node names ("*" for the whole fleet, "web-*"), or a list of names.',
            oneOf: [
              { type: "string", minLength: 1, maxLength: 253 },
              { type: "array", maxItems: 10_000, items: { type: "string", maxLength: 253 } },
            ],
          },
          signal: {
            enum: [...SIGNAL_KINDS],
            description: "run: run now; noop: plan now; commit: run if the catalog changed.",
          },
        },
      },
      response: { 200: sendResult, ...errorReplies },
    },
    handler: async (req) => {
      const { nodes, signal } = req.body;
      const glob = typeof nodes === "string" ? nodes : undefined;
      const result = await d.push.send(
        glob === undefined ? (nodes as string[]) : glob === "*" ? "all" : { glob },
        signal,
      );
      if (result.targets > 0) await record(req, result, glob === undefined ? (nodes as string[]) : [], glob);
      return result;
    },
  });
}
