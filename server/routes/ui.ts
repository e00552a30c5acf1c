/**
 * The dashboard under /ui/: server-rendered pages (server/ui/), one stylesheet, no script. Pages
 * declare `auth: "session"` and the least role they need (the auth plugin sends anyone without a
 * session to the login form, and refuses a too-small role with 403); every state-changing form
 * carries the session's CSRF token, checked here before the handler. Sign-in is in ui-login.ts,
 * the console's actions in ui-actions.ts.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Deps } from "../deps.js";
import { commitTabs, fleetEnvironments } from "../environments-ui.js";
import { errorReplies, HttpError } from "../http.js";
import type { StaleCut } from "../storage/ui-types.js";
import { pageParam } from "../ui/layout.js";
import { alertsPage } from "../ui/pages/alerts.js";
import { auditPage } from "../ui/pages/audit.js";
import { commitsPage } from "../ui/pages/commits.js";
import { driftPage } from "../ui/pages/drift.js";
import { fleetPage, fleetParams } from "../ui/pages/fleet.js";
import { nodePage } from "../ui/pages/node.js";
import { reportPage } from "../ui/pages/report.js";
import { resourceFilterParam } from "../ui/pages/resource-filter.js";
import { actionContext, problemPage, send } from "../ui/respond.js";
import { csrfMatches } from "../ui/session.js";
import { stylesheet } from "../ui/style.js";
import { timelineUiRoutes } from "./timeline.js";
import { uiActionRoutes } from "./ui-actions.js";
import { uiLoginRoutes } from "./ui-login.js";
import { uiOidcRoutes } from "./ui-oidc.js";
import { uiRolloutRoutes } from "./ui-rollouts.js";
import { uiRunRoutes } from "./ui-run-actions.js";

const page = { response: { 200: { type: "string" }, ...errorReplies } };
const titles: Record<number, string> = {
  400: "Not accepted",
  403: "Not allowed",
  404: "Not found",
  409: "Not now",
  503: "Not available",
};

export function uiRoutes(app: FastifyInstance, d: Deps): void {
  const viewer = { auth: "session" as const, role: "viewer" as const };
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
        return problemPage(
          req,
          reply,
          403,
          "Refused",
          "This form is missing its CSRF token or carries another session's. Go back, reload the page and try again.",
        );
      }
    });
    // Coded errors (a role too small, a missing node, no push channel) as pages, not JSON.
    ui.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
      if (err instanceof HttpError && titles[err.statusCode]) {
        return problemPage(req, reply, err.statusCode, titles[err.statusCode] ?? "Error", err.message);
      }
      throw err;
    });

    // The server's address as a person types it (http://host:7420/) leads to the dashboard too.
    for (const path of ["/", "/ui"]) {
      ui.get(path, { config: { auth: "none" }, schema: page }, async (_req, reply) =>
        reply.redirect("/ui/", 303),
      );
    }

    ui.get("/ui/style.css", { config: { auth: "none" }, schema: page }, async (_req, reply) =>
      reply
        .header("cache-control", "public, max-age=3600")
        .header("x-content-type-options", "nosniff")
        .type("text/css; charset=utf-8")
        .send(stylesheet),
    );

    uiLoginRoutes(ui, d);
    uiOidcRoutes(ui, d);
    uiActionRoutes(ui, d);
    uiRunRoutes(ui, d);
    uiRolloutRoutes(ui, d);
    timelineUiRoutes(ui, d);

    ui.get("/ui/", { config: viewer, schema: page }, async (req, reply) => {
      const params = fleetParams(req.query as Record<string, unknown>);
      const body = await fleetPage(
        d.storage,
        params,
        staleCut(),
        d.now(),
        actionContext(req, d),
        fleetEnvironments(d),
      );
      return send(reply, { title: "Fleet", session: req.uiSession, nav: "fleet" }, body);
    });

    ui.get<{ Params: { name: string } }>(
      "/ui/nodes/:name",
      { config: viewer, schema: page },
      async (req, reply) => {
        const q = req.query as Record<string, unknown>;
        const show = resourceFilterParam(q.show);
        const body = await nodePage(
          d.storage,
          req.params.name,
          pageParam(q.page),
          d.now(),
          actionContext(req, d),
          show,
        );
        if (!body) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "No such node.");
        return send(reply, { title: req.params.name, session: req.uiSession, nav: "fleet" }, body);
      },
    );

    ui.get<{ Params: { id: string } }>(
      "/ui/reports/:id",
      { config: viewer, schema: page },
      async (req, reply) => {
        const report = req.params.id.length <= 200 ? await d.storage.getReport(req.params.id) : undefined;
        if (!report) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "No such report.");
        return send(
          reply,
          { title: `Report ${report.node}`, session: req.uiSession, nav: "fleet" },
          reportPage(report, d.now()),
        );
      },
    );

    ui.get("/ui/drift", { config: viewer, schema: page }, async (req, reply) => {
      const body = await driftPage(
        d.storage,
        pageParam((req.query as Record<string, unknown>).page),
        d.now(),
      );
      return send(reply, { title: "Drift", session: req.uiSession, nav: "drift" }, body);
    });

    ui.get("/ui/commits", { config: viewer, schema: page }, async (req, reply) => {
      const body = await commitsPage(
        d.storage,
        staleCut(),
        d.now(),
        actionContext(req, d),
        commitTabs(d, req.query),
      );
      return send(reply, { title: "Commits", session: req.uiSession, nav: "commits" }, body);
    });

    ui.get("/ui/alerts", { config: viewer, schema: page }, async (req, reply) => {
      const body = await alertsPage(d.storage, d.alerts.sinks, d.now());
      return send(reply, { title: "Alerts", session: req.uiSession, nav: "alerts" }, body);
    });

    ui.get("/ui/audit", { config: { auth: "session", role: "admin" }, schema: page }, async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const before =
        typeof q.before === "string" && /^[1-9][0-9]{0,17}$/.test(q.before) ? Number(q.before) : undefined;
      const action = typeof q.action === "string" && /^[a-z.-]{1,64}$/.test(q.action) ? q.action : undefined;
      const body = await auditPage(d.storage, before, action, d.now());
      return send(reply, { title: "Audit log", session: req.uiSession, nav: "audit" }, body);
    });
  });
}
