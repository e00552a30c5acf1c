/**
 * GET /api/v1/environments (viewer): every environment served (a followed branch with a valid
 * commit), its head, live commit and verdict, how many nodes it serves, and the nodes that are not
 * where they asked or where nodes.yaml puts them (a refusal, or their branch deleted), with why.
 */
import type { FastifyInstance } from "fastify";
import type { Deps } from "../deps.js";
import { defaultEnvironment } from "../environments.js";
import { errorReplies } from "../http.js";

const nullableString = { type: ["string", "null"] };

export function environmentRoutes(app: FastifyInstance, d: Deps): void {
  app.get("/api/v1/environments", {
    config: { auth: "admin", role: "viewer" },
    schema: {
      summary: "The environments served, their commits and nodes, and nodes not where they asked to be",
      response: {
        200: {
          type: "object",
          properties: {
            default: { type: "string" },
            environments: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  name: { type: "string" },
                  head: nullableString,
                  live: nullableString,
                  head_valid: { type: ["boolean", "null"] },
                  nodes: { type: "integer" },
                },
              },
            },
            warnings: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  node: { type: "string" },
                  environment: { type: "string" },
                  requested: nullableString,
                  note: { type: "string" },
                },
              },
            },
          },
        },
        ...errorReplies,
      },
    },
    handler: async () => {
      const main = defaultEnvironment(d);
      const [envs, nodes] = await Promise.all([d.storage.nodeEnvironments(), d.storage.listNodes()]);
      const count = new Map<string, number>();
      for (const n of nodes) {
        const env = envs.get(n.name)?.environment ?? main;
        count.set(env, (count.get(env) ?? 0) + 1);
      }
      const heads = d.gate?.branchHeads() ?? new Map<string, string>();
      const environments = [];
      for (const name of d.gate?.environments() ?? []) {
        const head = heads.get(name) ?? null;
        const verdict = head ? await d.storage.getCommit(head, name === main ? undefined : name) : undefined;
        environments.push({
          name,
          head,
          live: d.gate?.liveFor(name)?.sha ?? null,
          head_valid: verdict ? verdict.valid : null,
          nodes: count.get(name) ?? 0,
        });
      }
      const known = new Set(nodes.map((n) => n.name));
      const warnings = [...envs]
        .filter(([node, e]) => e.note && known.has(node))
        .map(([node, e]) => ({ node, environment: e.environment, requested: e.requested, note: e.note! }))
        .sort((a, b) => (a.node < b.node ? -1 : 1));
      return { default: main, environments, warnings };
    },
  });
}
