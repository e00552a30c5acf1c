/**
 * The console's actions as form posts (server/ui/actions.ts draws the buttons). Each post without
 * `confirm=yes` answers with a confirmation page whose form posts it again with it; only then does
 * it act (server/actions/, which records it in the audit log) and show the outcome. The CSRF token
 * is checked before any of this (ui.ts), and the auth plugin checks the role each route names.
 */
import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { deployCommit, pushUnavailable, recheckCommit, revokeNode, signalNodes } from "../actions/fleet.js";
import { installLine, selectNodes } from "../actions/select.js";
import { createToken } from "../actions/tokens.js";
import { requestActor } from "../audit.js";
import { parseDuration } from "../config.js";
import type { Deps } from "../deps.js";
import { errorReplies, HttpError } from "../http.js";
import { type Html, html, query, shortSha } from "../ui/html.js";
import { nodeHref } from "../ui/layout.js";
import { confirmPage, resultPage, secretBlock } from "../ui/pages/confirm.js";
import { filterFields, fleetParams } from "../ui/pages/fleet.js";
import { send } from "../ui/respond.js";

type Form = Record<string, string | undefined>;
const field = { type: "string", maxLength: 300 };
const schema = {
  body: {
    type: "object",
    additionalProperties: false,
    properties: Object.fromEntries(
      ["_csrf", "confirm", "status", "drifted", "stale", "q", "uses", "ttl", "selection"].map((k) => [
        k,
        field,
      ]),
    ),
  },
  response: { 200: { type: "string" }, ...errorReplies },
};
const operator = { auth: "session" as const, role: "operator" as const };
const admin = { auth: "session" as const, role: "admin" as const };
const ttls: Record<string, string> = { "1h": "1 hour", "1d": "1 day", "7d": "7 days" };
/** Names listed on a confirmation page before "and N more". */
const listed = 30;

const nodeList = (names: string[]) =>
  html`<ul class="nodes">${names.slice(0, listed).map((n) => html`<li><a href="${nodeHref(n)}">${n}</a></li>`)}${names.length > listed ? html`<li>and ${names.length - listed} more</li>` : ""}</ul>`;
/** A short digest of a selection: the confirmation carries it, so a changed selection is confirmed again. */
const selectionDigest = (names: string[]) =>
  createHash("sha256").update(names.join("\n")).digest("hex").slice(0, 24);

export function uiActionRoutes(ui: FastifyInstance, d: Deps): void {
  const confirmed = (body: unknown) => (body as Form | undefined)?.confirm === "yes";
  const page = (
    reply: Parameters<typeof send>[0],
    session: Parameters<typeof send>[1]["session"],
    title: string,
    body: Html,
  ) => send(reply, { title, session }, body);
  const ensureNode = async (name: string) => {
    if (!(await d.storage.nodeExists(name)))
      throw new HttpError(404, "TEND_E_HTTP_NOT_FOUND", "No such node.");
  };

  for (const noop of [false, true]) {
    const verb = noop ? "Plan" : "Run";
    const what = noop ? "plan (a noop run: nothing changes on the box)" : "run (changes are applied)";

    ui.post<{ Params: { name: string }; Body: Form }>(
      `/ui/nodes/:name/${verb.toLowerCase()}`,
      { config: operator, schema },
      async (req, reply) => {
        const { name } = req.params;
        await ensureNode(name);
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

  ui.post<{ Params: { name: string }; Body: Form }>(
    "/ui/nodes/:name/revoke",
    { config: admin, schema },
    async (req, reply) => {
      const { name } = req.params;
      await ensureNode(name);
      const s = req.uiSession;
      if (!confirmed(req.body)) {
        return page(
          reply,
          s,
          `Revoke ${name}?`,
          confirmPage({
            title: `Revoke ${name}?`,
            body: html`<p>Its credential stops working at once, on every server: the node can no longer fetch catalogs or send reports. Its reports stay. To bring it back, enrol it again with a re-enrolment token.</p>`,
            action: req.url,
            fields: {},
            button: `Revoke ${name}`,
            danger: true,
            back: nodeHref(name),
            csrf: s?.csrf ?? "",
          }),
        );
      }
      await revokeNode(d, requestActor(req), name);
      return page(
        reply,
        s,
        "Revoked",
        resultPage(
          `${name} is revoked`,
          html`<p>Its credential no longer works. A re-enrolment token (on its page) lets it enrol again.</p>`,
          { href: nodeHref(name), label: `Back to ${name}` },
        ),
      );
    },
  );

  ui.post<{ Params: { name: string }; Body: Form }>(
    "/ui/nodes/:name/reenroll-token",
    { config: admin, schema },
    async (req, reply) => {
      const { name } = req.params;
      await ensureNode(name);
      const s = req.uiSession;
      if (!confirmed(req.body)) {
        return page(
          reply,
          s,
          `Re-enrolment token for ${name}?`,
          confirmPage({
            title: `A re-enrolment token for ${name}?`,
            body: html`<p>A one-use token, valid for an hour, that may enrol only <b>${name}</b>, replacing its current credential (a rebuilt box, a lost state folder). Whoever holds it can take the node's name until it is used or expires.</p>`,
            action: req.url,
            fields: {},
            button: "Make the token",
            back: nodeHref(name),
            csrf: s?.csrf ?? "",
          }),
        );
      }
      const made = await createToken(
        d.storage,
        requestActor(req),
        { admin: false, node: name, reenroll: true, uses: 1, ttlMs: 3_600_000 },
        d.now(),
      );
      return page(
        reply,
        s,
        "Re-enrolment token",
        resultPage(
          `Re-enrolment token for ${name}`,
          html`${secretBlock("token", made.token, installLine(req, d, made.token, name))}<p class="muted">Token id <code>${made.id}</code>; one use; expires ${new Date(made.expires_at ?? 0).toISOString()}. Revoke it with <code>tend server token revoke ${made.id}</code>.</p>`,
          { href: nodeHref(name), label: `Back to ${name}` },
        ),
      );
    },
  );

  ui.post<{ Body: Form }>("/ui/tokens", { config: admin, schema }, async (req, reply) => {
    const s = req.uiSession;
    const uses = Number(req.body?.uses ?? 1);
    const ttl = req.body?.ttl ?? "1h";
    if (!Number.isInteger(uses) || uses < 1 || uses > 1000 || !ttls[ttl]) {
      throw new HttpError(
        400,
        "TEND_E_BAD_REQUEST",
        "Choose a number of uses from 1 to 1000 and a lifetime from the list.",
      );
    }
    if (!confirmed(req.body)) {
      return page(
        reply,
        s,
        "New enrolment token",
        confirmPage({
          title: "A new enrolment token?",
          body: html`<p>Whoever holds it can enrol new nodes (any name not yet taken) until it is used up or expires.</p>`,
          inputs: html`<p><label>uses <input type="number" name="uses" min="1" max="1000" value="${uses}"></label>
<label>valid for <select name="ttl">${Object.entries(ttls).map(([k, v]) => html`<option value="${k}"${k === ttl ? html` selected` : ""}>${v}</option>`)}</select></label></p>`,
          action: req.url,
          fields: {},
          button: "Make the token",
          back: "/ui/",
          csrf: s?.csrf ?? "",
        }),
      );
    }
    const made = await createToken(
      d.storage,
      requestActor(req),
      { admin: false, uses, ttlMs: parseDuration(ttl) },
      d.now(),
    );
    return page(
      reply,
      s,
      "Enrolment token",
      resultPage(
        "Enrolment token",
        html`${secretBlock("token", made.token, installLine(req, d, made.token))}<p class="muted">Token id <code>${made.id}</code>; ${uses} use${uses === 1 ? "" : "s"}; expires ${new Date(made.expires_at ?? 0).toISOString()}.</p>`,
        { href: "/ui/", label: "Back to the fleet" },
      ),
    );
  });

  const shaParams = {
    type: "object",
    properties: { sha: { type: "string", pattern: "^([0-9a-f]{40}|[0-9a-f]{64})$" } },
  };

  ui.post<{ Params: { sha: string }; Body: Form }>(
    "/ui/commits/:sha/recheck",
    { config: operator, schema: { ...schema, params: shaParams } },
    async (req, reply) => {
      const { sha } = req.params;
      const s = req.uiSession;
      if (!confirmed(req.body)) {
        return page(
          reply,
          s,
          `Re-check ${shortSha(sha)}?`,
          confirmPage({
            title: `Re-check ${shortSha(sha)}?`,
            body: html`<p>The server fetches the repository and judges this commit again with every node's facts as they are now. If it is the branch head and now passes, it becomes live; an older commit gets a new verdict but does not go live (that would be a rollback).</p>`,
            action: req.url,
            fields: {},
            button: "Re-check",
            back: "/ui/commits",
            csrf: s?.csrf ?? "",
          }),
        );
      }
      const r = await recheckCommit(d, requestActor(req), sha);
      const verdict = r.valid
        ? r.live === r.commit
          ? "valid, and live"
          : "valid"
        : `refused (${r.errors.length} error${r.errors.length === 1 ? "" : "s"})`;
      return page(
        reply,
        s,
        "Re-checked",
        resultPage(
          `${shortSha(sha)} re-checked: ${verdict}`,
          html`<p>The commits page shows its verdict and errors.</p>`,
          { href: "/ui/commits", label: "Back to the commits" },
        ),
      );
    },
  );

  ui.post<{ Params: { sha: string }; Body: Form }>(
    "/ui/commits/:sha/deploy",
    { config: operator, schema: { ...schema, params: shaParams } },
    async (req, reply) => {
      const { sha } = req.params;
      if (!d.rollouts) throw pushUnavailable("deploy a commit");
      const s = req.uiSession;
      if (!confirmed(req.body)) {
        return page(
          reply,
          s,
          `Deploy ${shortSha(sha)}?`,
          confirmPage({
            title: `Deploy ${shortSha(sha)}?`,
            body: html`<p>A rollout of this commit starts: a canary first, then waves, each signalled to run now; a failing wave halts it.</p>`,
            action: req.url,
            fields: {},
            button: "Deploy",
            back: "/ui/commits",
            csrf: s?.csrf ?? "",
          }),
        );
      }
      const started = await deployCommit(d, requestActor(req), sha, false);
      return page(
        reply,
        s,
        "Deploying",
        resultPage(`Deploying ${shortSha(sha)}`, html`<p>Rollout <code>${started.id}</code> started.</p>`, {
          href: "/ui/commits",
          label: "Back to the commits",
        }),
      );
    },
  );
}
