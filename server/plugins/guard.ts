/**
 * Cheap refusals that come first: overload (503 with a jittered Retry-After rather than slowing
 * everyone down), and JSON nested too deep or with arrays too long (400), checked before any schema
 * validation walks them. Content codings are decompress.ts's (registered right after this one, so
 * its 415 still comes before anything else reads the body).
 */
import type { FastifyInstance } from "fastify";
import { HttpError, jitteredRetryAfter } from "../http.js";

export const maxDepth = 64;
const maxArray = 100_000;

/** The reason a body nesting deeper than `maxDepth` is refused (here, and in decompress.ts's pre-scan). */
export const tooDeep = `nests deeper than ${maxDepth} levels`;

/** The first reason `value` is too deep or too wide, or null. */
export function shapeProblem(value: unknown): string | null {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth >= maxDepth) return tooDeep;
    if (Array.isArray(v)) {
      if (v.length > maxArray) return `has an array longer than ${maxArray} items`;
      for (const x of v) stack.push([x, depth + 1]);
    } else {
      for (const x of Object.values(v)) stack.push([x, depth + 1]);
    }
  }
  return null;
}

export function guardPlugin(app: FastifyInstance, maxInFlight: number): { inFlight: () => number } {
  let inFlight = 0;
  app.addHook("onRequest", async (req, reply) => {
    if (inFlight >= maxInFlight) {
      reply.header("retry-after", String(jitteredRetryAfter(1, 10)));
      throw new HttpError(
        503,
        "TEND_E_UNAVAILABLE",
        "The server is overloaded; retry after the Retry-After delay.",
      );
    }
    // A push stream stays open for hours: it is held by the stream hub, not counted here (it is
    // still refused above when the server is overloaded).
    if (req.routeOptions.config?.stream) return;
    inFlight++;
    reply.raw.once("close", () => {
      inFlight--;
    });
  });
  app.addHook("preValidation", async (req) => {
    const problem = req.body === undefined ? null : shapeProblem(req.body);
    if (problem) throw new HttpError(400, "TEND_E_BAD_REQUEST", `The body ${problem}.`);
  });
  return { inFlight: () => inFlight };
}
