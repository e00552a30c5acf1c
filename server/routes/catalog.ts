/**
 * POST /api/v1/catalog and GET /api/v1/files/SHA. The node is the credential's, never the body's:
 * facts can say anything, the catalog is still compiled for the authenticated name (TRUST B2).
 */
import type { FastifyInstance } from "fastify";
import { canonicalJson } from "../../core/canonical.js";
import { formatProblem } from "../../core/errors.js";
import { sha256 } from "../../core/hash.js";
import type { Facts } from "../../core/types.js";
import factsSchemaJson from "../../schemas/facts.schema.json" with { type: "json" };
import type { Deps } from "../deps.js";
import {
  defaultEnvironment,
  environmentFor,
  environmentHeaders,
  requestedEnvironment,
} from "../environments.js";
import { errorReplies, HttpError, jitteredRetryAfter } from "../http.js";
import type { Served } from "../rollouts/pins.js";
import { keepRawJson, rawJson } from "./raw-json.js";

// The facts a node reports are checked against schemas/facts.schema.json (bundled with the code):
// incomplete facts are refused here, so they never reach the git gate's compile of every node.
const { $schema: _s, $id: _i, ...factsSchema } = factsSchemaJson as Record<string, unknown>;

export function catalogRoutes(app: FastifyInstance, d: Deps): void {
  app.register(async (scope) => {
    keepRawJson(scope);
    routes(scope, d);
  });
}

function routes(app: FastifyInstance, d: Deps): void {
  /**
   * Per node: the sha256 of its last poll's body text and the canonical digest of its facts. An
   * agent sends the same bytes each poll, so an unchanged body costs one hash of a few KiB instead
   * of canonicalising the facts again, and the facts are written only when they change.
   */
  const lastFacts = new Map<string, { body: string; digest: string }>();
  /** Per node: the environment choice last recorded (environments.ts writes it when it changes). */
  const lastEnvironment = new Map<string, string>();

  app.post<{ Body: { facts: Facts; environment?: string } }>(
    "/api/v1/catalog",
    {
      config: { auth: "node" },
      schema: {
        summary: "The authenticated node's signed catalog, compiled from the live commit",
        headers: {
          type: "object",
          properties: {
            "if-none-match": { type: "string", maxLength: 200 },
            "x-tend-run": {
              type: "string",
              maxLength: 20,
              description: "noop: a plan (a preview may serve it another commit)",
            },
          },
        },
        body: {
          type: "object",
          additionalProperties: false,
          required: ["facts"],
          properties: { facts: factsSchema, environment: requestedEnvironment },
        },
        response: {
          200: {
            type: "object",
            description: "signature = base64 Ed25519 over canonicalJson({catalog, serial}).",
            required: ["catalog", "serial", "signature", "key_id"],
            properties: {
              catalog: { type: "object", additionalProperties: true },
              serial: { type: "integer" },
              signature: { type: "string" },
              key_id: { type: "string" },
            },
          },
          304: { type: "null", description: "The catalog is the one named by If-None-Match." },
          ...errorReplies,
        },
      },
    },
    async (req, reply) => {
      const node = req.node!;
      // The environment is the server's choice (nodes.yaml on the default branch), never the body's.
      const env = await environmentFor(d, lastEnvironment, node, req.body.environment);
      const gate = d.gate;
      const newest = env?.live;
      if (!gate || !env || !newest) {
        throw new HttpError(
          503,
          "TEND_E_NO_COMMIT",
          "The server has no valid recipe commit yet.",
          [],
          jitteredRetryAfter(5, 30),
        );
      }
      const facts = req.body.facts;
      const raw = rawJson(req);
      const bodyHash = raw === undefined ? "" : sha256(raw);
      const last = lastFacts.get(node);
      let factsDigest: string;
      if (last && raw !== undefined && last.body === bodyHash) {
        factsDigest = last.digest;
      } else {
        factsDigest = sha256(canonicalJson(facts));
        if (last?.digest !== factsDigest) await d.storage.saveFacts(node, facts, d.now());
        lastFacts.set(node, { body: bodyHash, digest: factsDigest });
      }
      // A rollout in progress may hold this node on the commit before the live one (rollouts/pins.ts);
      // rollouts deploy the default environment's commits, other environments follow their branch.
      const live: Served =
        env.environment === defaultEnvironment(d)
          ? await d.deploys.pins.serve(gate, newest, node, req.headers["x-tend-run"] === "noop")
          : newest;
      const entry = d.catalogs.compile(live.sha, live.tree, node, facts, factsDigest);
      if (!entry.catalog) {
        const detail = entry.problems.slice(0, 20).map(formatProblem).join("; ");
        throw new HttpError(
          422,
          "TEND_E_COMPILE",
          `The catalog for ${node} does not compile: ${detail}`,
          entry.problems,
        );
      }
      // Files first: once the serial names this catalog, the node may fetch them from any server.
      await d.catalogs.saveFiles(entry, d.storage);
      const serial = await d.storage.catalogSerial(node, entry.digest, req.nodeCatalog ?? undefined);
      // Before the node can have it: a report of this commit is then believed (issue 15).
      await d.served.served(node, entry.catalog.commit ?? live.sha, d.now());
      const signed = d.catalogs.signed(entry, serial);
      reply.header("etag", signed.etag);
      reply.header("x-tend-commit", live.sha);
      reply.headers(environmentHeaders(env));
      if (live.preview) reply.header("x-tend-preview", live.sha);
      if (req.headers["if-none-match"] === signed.etag) return reply.code(304).send();
      return reply.type("application/json").send(signed.body);
    },
  );

  app.get<{ Params: { sha: string } }>(
    "/api/v1/files/:sha",
    {
      config: { auth: "node" },
      schema: {
        summary: "A file referenced by the node's catalog, by sha256",
        params: { type: "object", properties: { sha: { type: "string", maxLength: 200 } } },
        response: { 200: { type: "string", description: "The file's bytes." }, ...errorReplies },
      },
    },
    async (req, reply) => {
      const found = /^[0-9a-f]{64}$/.test(req.params.sha)
        ? await d.storage.nodeFile(req.node!, req.params.sha)
        : undefined;
      if (!found) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "Not found.");
      reply.type("application/octet-stream").header("x-content-sha256", req.params.sha);
      if ("data" in found) return reply.send(found.data);
      // A large file: streamed from the recipe repository's git blob, never read whole. A failure
      // midway cuts the reply short of its length, which the agent refuses (and its hash check too).
      const stream = await d.gate?.blobStream(found.gitBlob);
      if (!stream) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "Not found.");
      return reply.header("content-length", found.size).send(stream);
    },
  );
}
