/** Sending a dashboard page: the frame, the security headers, and the HTML error pages. */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Deps } from "../deps.js";
import type { ActionContext } from "./actions.js";
import { type Html, html } from "./html.js";
import { layout, type PageOptions } from "./layout.js";

const headers = {
  "content-security-policy":
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

export function send(reply: FastifyReply, o: PageOptions, body: Html, status = 200) {
  return reply.code(status).headers(headers).type("text/html; charset=utf-8").send(layout(o, body).text);
}

/** A page that says what went wrong, with the session's frame when there is one. */
export function problemPage(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  title: string,
  message: string,
) {
  return send(
    reply,
    { title, session: req.uiSession },
    html`<h1>${title}</h1><p class="error" role="alert">${message}</p><p><a href="/ui/">Back to the fleet</a></p>`,
    status,
  );
}

/** What the buttons of a page need to know about the signed-in user and this server. */
export function actionContext(req: FastifyRequest, d: Deps): ActionContext | undefined {
  const s = req.uiSession;
  if (!s) return undefined;
  return { role: s.principal.role, csrf: s.csrf, push: d.signals !== null, rollouts: d.rollouts !== null };
}
