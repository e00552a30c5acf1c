/**
 * JSON bodies kept as received: a scope (a fastify plugin context) whose `application/json`
 * parser is fastify's own (same limits, same `__proto__`/`constructor` refusal) but also remembers
 * the body text, so a route can store the exact bytes (reports) or recognise an unchanged body
 * (catalog polls) without serialising the parsed value again.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";

const rawBodies = new WeakMap<FastifyRequest, string>();

/** The JSON text of this request's body, as received (after any Content-Encoding was undone). */
export function rawJson(req: FastifyRequest): string | undefined {
  return rawBodies.get(req);
}

/** Makes `scope`'s JSON parser remember each body's text (see `rawJson`). */
export function keepRawJson(scope: FastifyInstance): void {
  const parse = scope.getDefaultJsonParser("error", "error");
  scope.removeContentTypeParser("application/json");
  scope.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    rawBodies.set(req, body as string);
    parse(req, body as string, done);
  });
}
