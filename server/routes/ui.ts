/**
 * The dashboard under /ui/: server-rendered pages (server/ui/), one stylesheet, no script. Pages
 * declare `auth: "session"` (the auth plugin sends anyone without a session to the login form);
 * every state-changing form carries the session's CSRF token, checked here before the handler.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Deps } from "../deps.js";
import { errorReplies } from "../http.js";
import { hashSecret } from "../identity.js";
import type { StaleCut } from "../storage/ui-types.js";
import { type Html, html } from "../ui/html.js";
import { layout, type PageOptions, pageParam } from "../ui/layout.js";
import { commitsPage } from "../ui/pages/commits.js";
import { driftPage } from "../ui/pages/drift.js";
import { fleetPage, fleetParams } from "../ui/pages/fleet.js";
import { loginPage } from "../ui/pages/login.js";
import { nodePage } from "../ui/pages/node.js";
import { reportPage } from "../ui/pages/report.js";
import {
  cookies,
  csrfMatches,
  loginCookie,
  randomToken,
  readSession,
  sessionCookie,
  setCookie,
  startSession,
} from "../ui/session.js";
import { stylesheet } from "../ui/style.js";

const page = { response: { 200: { type: "string" }, ...errorReplies } };
const form = {
  type: "object",
  properties: { token: { type: "string", maxLength: 400 }, _csrf: { type: "string", maxLength: 100 } },
};
const headers = {
  "content-security-policy":
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

function send(reply: FastifyReply, o: PageOptions, body: Html, status = 200) {
  return reply.code(status).headers(headers).type("text/html; charset=utf-8").send(layout(o, body).text);
}

export function uiRoutes(app: FastifyInstance, d: Deps): void {
  const session = { auth: "session" as const };
  const staleCut = (): StaleCut => {
    const ms = d.now() - 2 * d.config.agentIntervalMs;
    return { ms, iso: new Date(ms).toISOString() };
  };

  app.register(async (ui) => {
    // Forms post urlencoded; only here (the API accepts JSON alone, TRUST C1).
    ui.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 16_384 },
      (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    ui.addHook("preHandler", async (req, reply) => {
      if (req.routeOptions.config?.auth !== "session" || req.method === "GET") return;
      const given = (req.body as { _csrf?: unknown } | undefined)?._csrf;
      if (!req.uiSession || !csrfMatches(req.uiSession.csrf, given)) {
        return send(
          reply,
          { title: "Refused", session: null },
          html`<h1>Refused</h1>
<p class="error">This form is missing its CSRF token or carries another session's. Go back, reload the page and try again.</p>`,
          403,
        );
      }
    });

    ui.get("/ui", { config: { auth: "none" }, schema: page }, async (_req, reply) =>
      reply.redirect("/ui/", 303),
    );

    ui.get("/ui/style.css", { config: { auth: "none" }, schema: page }, async (_req, reply) =>
      reply
        .header("cache-control", "public, max-age=3600")
        .header("x-content-type-options", "nosniff")
        .type("text/css; charset=utf-8")
        .send(stylesheet),
    );

    const showLogin = (req: FastifyRequest, reply: FastifyReply, problem: string | null, status: number) => {
      const csrf = randomToken();
      setCookie(req, reply, loginCookie, csrf, 3600);
      return send(reply, { title: "Sign in", session: null }, loginPage(csrf, problem), status);
    };

    ui.get("/ui/login", { config: { auth: "none" }, schema: page }, async (req, reply) => {
      if (await readSession(req, d.storage, d.now())) return reply.redirect("/ui/", 303);
      return showLogin(req, reply, null, 200);
    });

    ui.post<{ Body: { token?: string; _csrf?: string } }>(
      "/ui/login",
      { config: { auth: "none" }, schema: { body: form, ...page } },
      async (req, reply) => {
        const expected = cookies(req).get(loginCookie);
        if (!expected || !csrfMatches(expected, req.body?._csrf)) {
          return showLogin(req, reply, "The form expired or did not come from this page; try again.", 403);
        }
        const token = (req.body?.token ?? "").trim();
        const record = token.startsWith("tend_adm_")
          ? await d.storage.getToken(hashSecret(token))
          : undefined;
        const now = d.now();
        if (record?.kind !== "admin" || (record.expires_at !== null && record.expires_at <= now)) {
          return showLogin(req, reply, "That is not a valid admin token.", 401);
        }
        await startSession(req, reply, d.storage, now, record.expires_at);
        setCookie(req, reply, loginCookie, "", 0);
        return reply.redirect("/ui/", 303);
      },
    );

    ui.post("/ui/logout", { config: session, schema: { body: form, ...page } }, async (req, reply) => {
      if (req.uiSession) await d.storage.ui.deleteSession(req.uiSession.hash);
      setCookie(req, reply, sessionCookie, "", 0);
      return reply.redirect("/ui/login", 303);
    });

    ui.get("/ui/", { config: session, schema: page }, async (req, reply) => {
      const body = await fleetPage(
        d.storage,
        fleetParams(req.query as Record<string, unknown>),
        staleCut(),
        d.now(),
      );
      return send(reply, { title: "Fleet", session: req.uiSession, nav: "fleet" }, body);
    });

    ui.get<{ Params: { name: string } }>(
      "/ui/nodes/:name",
      { config: session, schema: page },
      async (req, reply) => {
        const p = pageParam((req.query as Record<string, unknown>).page);
        const body = await nodePage(d.storage, req.params.name, p, d.now());
        if (!body) return notFound(reply, req, "node");
        return send(reply, { title: req.params.name, session: req.uiSession, nav: "fleet" }, body);
      },
    );

    ui.get<{ Params: { id: string } }>(
      "/ui/reports/:id",
      { config: session, schema: page },
      async (req, reply) => {
        const report = req.params.id.length <= 200 ? await d.storage.getReport(req.params.id) : undefined;
        if (!report) return notFound(reply, req, "report");
        return send(
          reply,
          { title: `Report ${report.node}`, session: req.uiSession, nav: "fleet" },
          reportPage(report, d.now()),
        );
      },
    );

    ui.get("/ui/drift", { config: session, schema: page }, async (req, reply) => {
      const body = await driftPage(
        d.storage,
        pageParam((req.query as Record<string, unknown>).page),
        d.now(),
      );
      return send(reply, { title: "Drift", session: req.uiSession, nav: "drift" }, body);
    });

    ui.get("/ui/commits", { config: session, schema: page }, async (req, reply) => {
      const body = await commitsPage(d.storage, staleCut(), d.now());
      return send(reply, { title: "Commits", session: req.uiSession, nav: "commits" }, body);
    });
  });
}

function notFound(reply: FastifyReply, req: FastifyRequest, what: string) {
  return send(
    reply,
    { title: "Not found", session: req.uiSession },
    html`<h1>Not found</h1><p>No such ${what}. <a href="/ui/">Back to the fleet</a>.</p>`,
    404,
  );
}
