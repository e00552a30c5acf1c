/**
 * Run now and plan now from the dashboard: one node (its page) or the nodes the fleet page's filter
 * selects, through issue 11's push channel (`Deps.signals`); a server without it answers with a
 * page saying so. The confirmation of a selection carries a digest of the names it listed: if the
 * selection changed meanwhile, it is shown again rather than acted on.
 */
import type { FastifyInstance } from "fastify";
import { pushUnavailable, signalNodes } from "../actions/fleet.js";
import { selectNodes } from "../actions/select.js";
import { requestActor } from "../audit.js";
import type { Deps } from "../deps.js";
import { HttpError } from "../http.js";
import { html, query } from "../ui/html.js";
import { nodeHref } from "../ui/layout.js";
import { confirmPage, resultPage } from "../ui/pages/confirm.js";
import { filterFields, fleetParams } from "../ui/pages/fleet.js";
import {
  confirmed,
  ensureNode,
  type Form,
  nodeList,
  operator,
  page,
  schema,
  selectionDigest,
} from "./ui-forms.js";

export function uiRunRoutes(ui: FastifyInstance, d: Deps): void {
  for (const noop of [false, true]) {
    const verb = noop ? "Plan" : "Run";
    const what = noop ? "plan (a noop run: nothing changes on the box)" : "run (changes are applied)";

    ui.post<{ Params: { name: string }; Body: Form }>(
      `/ui/nodes/:name/${verb.toLowerCase()}`,
      { config: operator, schema },
      async (req, reply) => {
        const { name } = req.params;
        await ensureNode(d, name);
        if (!d.signals) throw pushUnavailable(`ask ${name} to ${verb.toLowerCase()} now`);
        const s = req.uiSession;
        if (!confirmed(req.body)) {
          return page(
            reply,
            s,
            `${verb} ${name} now?`,
            confirmPage({
              title: `${verb} ${name} now?`,
              body: html`<p>The node is signalled to pull its catalog and ${what} now, instead of at its next scheduled run.</p>`,
              action: req.url,
              fields: {},
              button: `${verb} now`,
              back: nodeHref(name),
              csrf: s?.csrf ?? "",
            }),
          );
        }
        await signalNodes(d, requestActor(req), [name], noop);
        return page(
          reply,
          s,
          `${verb} requested`,
          resultPage(
            `${verb} requested`,
            html`<p>${name} was signalled to ${verb.toLowerCase()} now; its report appears on its page when it is done.</p>`,
            { href: nodeHref(name), label: `Back to ${name}` },
          ),
        );
      },
    );

    ui.post<{ Body: Form }>(
      `/ui/fleet/${verb.toLowerCase()}`,
      { config: operator, schema },
      async (req, reply) => {
        const p = fleetParams(req.body ?? {});
        const names = await selectNodes(d, p);
        const back = `/ui/${query(filterFields(p))}`;
        if (names.length === 0)
          throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "The filter selects no node.");
        if (!d.signals) throw pushUnavailable(`ask nodes to ${verb.toLowerCase()} now`);
        const digest = selectionDigest(names);
        const s = req.uiSession;
        const changed = confirmed(req.body) && req.body.selection !== digest;
        if (!confirmed(req.body) || changed) {
          return page(
            reply,
            s,
            `${verb} ${names.length} nodes now?`,
            confirmPage({
              title: `${verb} ${names.length} node${names.length === 1 ? "" : "s"} now?`,
              body: html`${changed ? html`<p class="warn">The selection changed since the last page: confirm again.</p>` : ""}<p>These nodes are signalled to pull their catalog and ${what} now:</p>${nodeList(names)}`,
              action: req.url,
              fields: { ...filterFields(p), selection: digest },
              button: `${verb} ${names.length} now`,
              back,
              csrf: s?.csrf ?? "",
            }),
          );
        }
        await signalNodes(d, requestActor(req), names, noop);
        return page(
          reply,
          s,
          `${verb} requested`,
          resultPage(
            `${verb} requested`,
            html`<p>${names.length} node${names.length === 1 ? " was" : "s were"} signalled to ${verb.toLowerCase()} now.</p>${nodeList(names)}`,
            { href: back, label: "Back to the fleet" },
          ),
        );
      },
    );
  }
}
