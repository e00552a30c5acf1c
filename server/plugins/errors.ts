/**
 * Turning every failure into `{code, message}` with the right status: schema and parser errors are
 * the client's (400/413/415), an unreachable database is 503 with Retry-After, and only a bug is
 * 500 — with a generic message, the details going to the log.
 */
import type { FastifyError, FastifyInstance } from "fastify";
import type { ErrorCode } from "../../core/codes.js";
import { HttpError, jitteredRetryAfter } from "../http.js";
import { StorageUnavailable } from "../storage/types.js";

const parserErrors: Record<string, [number, ErrorCode]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, "TEND_E_TOO_LARGE"],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, "TEND_E_MEDIA_TYPE"],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, "TEND_E_BAD_REQUEST"],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, "TEND_E_BAD_REQUEST"],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, "TEND_E_BAD_REQUEST"],
};

export function errorsPlugin(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof HttpError) {
      if (err.retryAfter !== undefined) reply.header("retry-after", String(err.retryAfter));
      const details = err.problems.length ? { details: err.problems } : {};
      return reply.code(err.statusCode).send({ code: err.code, message: err.message, ...details });
    }
    if (err instanceof StorageUnavailable) {
      req.log.warn({ err: err.message }, "database unavailable");
      reply.header("retry-after", String(jitteredRetryAfter(2, 10)));
      return reply
        .code(503)
        .send({ code: "TEND_E_UNAVAILABLE", message: "The database is unavailable; retry later." });
    }
    if (err.validation) {
      const where = err.validationContext ?? "body";
      const first = err.validation[0];
      const path = first?.instancePath ? `${where}${first.instancePath.replace(/\//g, ".")}` : where;
      const extra =
        first?.keyword === "additionalProperties"
          ? ` (unknown key "${(first.params as { additionalProperty?: string }).additionalProperty}")`
          : "";
      return reply
        .code(400)
        .send({ code: "TEND_E_BAD_REQUEST", message: `${path} ${first?.message ?? "is invalid"}${extra}` });
    }
    const mapped = err.code ? parserErrors[err.code] : undefined;
    if (mapped) return reply.code(mapped[0]).send({ code: mapped[1], message: err.message });
    if (err instanceof SyntaxError || /prototype|__proto__/i.test(err.message)) {
      return reply
        .code(400)
        .send({ code: "TEND_E_BAD_REQUEST", message: `The body is not acceptable JSON: ${err.message}` });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ code: "TEND_E_BAD_REQUEST", message: err.message });
    }
    req.log.error({ err }, "internal error");
    return reply
      .code(500)
      .send({ code: "TEND_E_INTERNAL", message: "Internal server error; the server log has the details." });
  });

  app.setNotFoundHandler((_req, reply) => {
    reply.code(404).send({ code: "TEND_E_HTTP_NOT_FOUND", message: "Not found." });
  });
}
