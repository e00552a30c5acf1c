/**
 * POST /api/v1/hooks/git: fetch and ingest now. Callers: an admin token, or a push webhook proved
 * by the configured shared secret — GitHub (X-Hub-Signature-256), Gitea (X-Gitea-Signature), both
 * an HMAC-SHA256 of the raw body, or GitLab (X-Gitlab-Token, the secret itself).
 */
import { createHmac } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { audit } from "../audit.js";
import type { Deps } from "../deps.js";
import { errorReplies, HttpError, problemSchema } from "../http.js";
import { safeEqual } from "../identity.js";
import { needsRole, tokenPrincipal } from "../plugins/auth.js";
import { allows, type Principal } from "../roles.js";

function webhookVerified(req: FastifyRequest, secret: string | null): boolean {
  if (!secret) return false;
  const raw = req.rawBody ?? "";
  const hmac = createHmac("sha256", secret).update(raw).digest("hex");
  const github = req.headers["x-hub-signature-256"];
  if (typeof github === "string") return safeEqual(github, `sha256=${hmac}`);
  const gitea = req.headers["x-gitea-signature"];
  if (typeof gitea === "string") return safeEqual(gitea, hmac);
  const gitlab = req.headers["x-gitlab-token"];
  if (typeof gitlab === "string") return safeEqual(gitlab, secret);
  return false;
}

export async function hookRoutes(app: FastifyInstance, d: Deps): Promise<void> {
  // A scope of its own: this route's JSON parser keeps the raw body for the signature check.
  await app.register(async (scope) => {
    scope.removeContentTypeParser("application/json");
    scope.addContentTypeParser(
      "application/json",
      { parseAs: "string", bodyLimit: d.config.limits.bodyBytes },
      (req, body, done) => {
        req.rawBody = String(body);
        try {
          const value =
            body === ""
              ? {}
              : JSON.parse(String(body), (k, v) => {
                  if (k === "__proto__" || k === "constructor")
                    throw new SyntaxError(`key "${k}" is not allowed`);
                  return v;
                });
          done(null, value);
        } catch (err) {
          (err as { statusCode?: number }).statusCode = 400;
          done(err as Error, undefined);
        }
      },
    );
    scope.post("/api/v1/hooks/git", {
      config: { auth: "webhook" },
      schema: {
        summary: "Fetch the recipe repository now and ingest its newest commit",
        body: { description: "Ignored: a push event's payload, or nothing." },
        response: {
          200: {
            type: "object",
            properties: {
              head: { type: ["string", "null"] },
              live: { type: ["string", "null"] },
              valid: { type: ["boolean", "null"] },
              errors: { type: "array", items: problemSchema },
              branches: {
                type: "array",
                description: "Every followed branch (environment): its head, live commit and verdict.",
                items: {
                  type: "object",
                  properties: {
                    branch: { type: "string" },
                    head: { type: ["string", "null"] },
                    live: { type: ["string", "null"] },
                    valid: { type: ["boolean", "null"] },
                    errors: { type: "array", items: problemSchema },
                  },
                },
              },
            },
          },
          ...errorReplies,
        },
      },
      handler: async (req) => {
        let who: Principal | null = webhookVerified(req, d.config.recipes?.webhookSecret ?? null)
          ? { kind: "webhook", id: "git", role: "operator" }
          : null;
        if (!who) {
          who = await tokenPrincipal(d.storage, req, d.now());
          if (!who) {
            throw new HttpError(
              401,
              "TEND_E_UNAUTHORIZED",
              "An admin token or a valid webhook signature is required.",
            );
          }
          // Fetching now is what the commit page's Re-check does: an operator's action.
          if (!allows(who.role, "operator")) throw needsRole(who, "operator");
        }
        if (!d.gate) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "No recipe repository is configured.");
        const r = await d.gate.refresh();
        await audit(
          d.storage,
          { principal: who, address: req.ip, log: req.log },
          { action: "hook.git", details: { head: r.head, live: r.live, valid: r.valid } },
          d.now(),
        );
        const branches = r.branches.map(({ problems, ...b }) => ({ ...b, errors: problems }));
        return { head: r.head, live: r.live, valid: r.valid, errors: r.problems, branches };
      },
    });
  });
}
