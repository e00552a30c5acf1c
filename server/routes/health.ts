/** GET /healthz, GET /metrics, GET /api/docs/json (OpenAPI built from the route schemas). */
import type { FastifyInstance, RouteOptions } from "fastify";
import type { Deps } from "../deps.js";
import { errorReplies, errorSchema } from "../http.js";

export interface RouteRecord {
  method: string;
  url: string;
  auth: string | undefined;
  /** The least role an `admin` or `session` route needs (default admin). */
  role: string | undefined;
  schema: Record<string, unknown> | undefined;
}

/** Every route, as registered: the auth test and the OpenAPI document read it. */
export function recordRoutes(app: FastifyInstance): RouteRecord[] {
  const routes: RouteRecord[] = [];
  app.addHook("onRoute", (r: RouteOptions) => {
    for (const method of [r.method].flat()) {
      if (method === "HEAD") continue;
      routes.push({
        method,
        url: r.url,
        auth: r.config?.auth,
        role:
          r.config?.auth === "admin" || r.config?.auth === "session" ? (r.config.role ?? "admin") : undefined,
        schema: r.schema as Record<string, unknown> | undefined,
      });
    }
  });
  return routes;
}

function openapi(routes: RouteRecord[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z_]+)/g, "{$1}");
    const s = r.schema ?? {};
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries((s.response ?? {}) as Record<string, unknown>)) {
      const key = status.replace(/xx$/, "XX");
      const ref = (schema as { $ref?: string }).$ref ? { $ref: "#/components/schemas/Error" } : schema;
      responses[key] = {
        description: (schema as { description?: string }).description ?? status,
        content: { "application/json": { schema: ref } },
      };
    }
    const params = Object.keys(((s.params as { properties?: object })?.properties ?? {}) as object).map(
      (name) => ({
        name,
        in: "path",
        required: true,
        schema: { type: "string" },
      }),
    );
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = {
      summary: s.summary,
      "x-tend-auth": r.auth,
      security: r.auth === "node" || r.auth === "admin" ? [{ bearer: [] }] : [],
      parameters: params,
      ...(s.body
        ? { requestBody: { required: true, content: { "application/json": { schema: s.body } } } }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "tend server API", version: "1" },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: { Error: { ...errorSchema, $id: undefined } },
    },
    paths,
  };
}

export function healthRoutes(app: FastifyInstance, d: Deps, routes: RouteRecord[]): void {
  app.get("/healthz", {
    config: { auth: "none" },
    schema: {
      summary: "Liveness and database reachability",
      response: {
        200: {
          type: "object",
          properties: { status: { type: "string" }, live_commit: { type: ["string", "null"] } },
        },
        ...errorReplies,
      },
    },
    handler: async () => {
      await d.storage.ping();
      return { status: "ok", live_commit: d.gate?.live?.sha ?? null };
    },
  });

  app.get("/metrics", {
    config: { auth: "none" },
    schema: { summary: "Prometheus metrics", response: { 200: { type: "string" }, ...errorReplies } },
    handler: async (_req, reply) =>
      reply.type("text/plain; version=0.0.4").send(await d.metrics.render(d.storage)),
  });

  app.get("/api/docs/json", {
    config: { auth: "none" },
    schema: {
      summary: "This API as OpenAPI 3.1",
      response: { 200: { type: "object", additionalProperties: true } },
    },
    handler: async () => openapi(routes),
  });
}
