/**
 * The dashboard's rollouts (docs/deploys.md): the list and one rollout's view (a viewer), resume
 * and abort through a confirmation page (an operator), each audited as the API's are.
 */
import type { FastifyInstance } from "fastify";
import { audit, requestActor } from "../audit.js";
import type { Deps } from "../deps.js";
import { HttpError } from "../http.js";
import { actorName } from "../roles.js";
import { rolloutSummary, rolloutView } from "../rollouts/view.js";
import { html } from "../ui/html.js";
import { confirmPage, resultPage } from "../ui/pages/confirm.js";
import { rolloutPage, rolloutsPage } from "../ui/pages/rollouts.js";
import { actionContext, send } from "../ui/respond.js";
import { confirmed, type Form, operator, page, schema } from "./ui-forms.js";

const viewer = { auth: "session" as const, role: "viewer" as const };
const pageSchema = { response: schema.response };
const idParams = { type: "object", properties: { id: { type: "string", pattern: "^[0-9]{1,15}$" } } };

export function uiRolloutRoutes(ui: FastifyInstance, d: Deps): void {
  const engine = d.deploys.engine;
  const load = async (id: string) => {
    const r = await engine.get(Number(id));
    if (!r) throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "No such rollout.");
    return rolloutView(r, d.now());
  };

  ui.get("/ui/rollouts", { config: viewer, schema: pageSchema }, async (req, reply) => {
    const now = d.now();
    const list = (await engine.list(100)).map((r) => rolloutSummary(r, now));
    return send(
      reply,
      { title: "Rollouts", session: req.uiSession, nav: "rollouts" },
      rolloutsPage(list, now),
    );
  });

  ui.get<{ Params: { id: string } }>(
    "/ui/rollouts/:id",
    { config: viewer, schema: { ...pageSchema, params: idParams } },
    async (req, reply) => {
      const r = await load(req.params.id);
      const body = rolloutPage(r, d.now(), actionContext(req, d));
      return send(reply, { title: `Rollout ${r.id}`, session: req.uiSession, nav: "rollouts" }, body);
    },
  );

  for (const action of ["abort", "resume"] as const) {
    ui.post<{ Params: { id: string }; Body: Form }>(
      `/ui/rollouts/:id/${action}`,
      { config: operator, schema: { ...schema, params: idParams } },
      async (req, reply) => {
        const r = await load(req.params.id);
        const s = req.uiSession;
        const back = `/ui/rollouts/${r.id}`;
        if (!confirmed(req.body)) {
          const title = `${action === "abort" ? "Abort" : "Resume"} rollout ${r.id}?`;
          return page(
            reply,
            s,
            title,
            confirmPage({
              title,
              body:
                action === "abort"
                  ? html`<p>Every node of the rollout is served the commit it started from again, and those that ran the new one are asked to run now.</p>`
                  : html`<p>The failed wave runs again; once it is healthy, the rollout goes on.</p>`,
              action: req.url,
              fields: {},
              button: action === "abort" ? "Abort" : "Resume",
              danger: action === "abort",
              back,
              csrf: s?.csrf ?? "",
            }),
          );
        }
        const actor = requestActor(req);
        if (action === "abort") await engine.abort(r.id, actorName(actor.principal));
        else await engine.resume(r.id);
        await audit(
          d.storage,
          actor,
          { action: `rollout.${action}`, details: { rollout: r.id, commit: r.commit } },
          d.now(),
        );
        return page(
          reply,
          s,
          action === "abort" ? "Aborted" : "Resumed",
          resultPage(`Rollout ${r.id} ${action === "abort" ? "aborted" : "resumed"}`, html``, {
            href: back,
            label: "Back to the rollout",
          }),
        );
      },
    );
  }
}
