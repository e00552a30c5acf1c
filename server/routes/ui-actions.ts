import type { FastifyInstance } from "fastify";
import { deployCommit, pushUnavailable, recheckCommit, revokeNode } from "../actions/fleet.js";
import { installLine } from "../actions/select.js";
import { createToken } from "../actions/tokens.js";
import { requestActor } from "../audit.js";
import { parseDuration } from "../config.js";
import type { Deps } from "../deps.js";
import { HttpError } from "../http.js";
import { html, shortSha } from "../ui/html.js";
import { nodeHref } from "../ui/layout.js";
import { confirmPage, resultPage, secretBlock } from "../ui/pages/confirm.js";
import { admin, confirmed, ensureNode, type Form, operator, page, schema } from "./ui-forms.js";

const ttls: Record<string, string> = { "1h": "1 hour", "1d": "1 day", "7d": "7 days" };

export function uiActionRoutes(ui: FastifyInstance, d: Deps): void {
  ui.post<{ Params: { name: string }; Body: Form }>(
    "/ui/nodes/:name/revoke",
    { config: admin, schema },
    async (req, reply) => {
      const { name } = req.params;
      await ensureNode(d, name);
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
      await ensureNode(d, name);
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
          href: `/ui/rollouts/${encodeURIComponent(started.id)}`,
          label: "Follow the rollout",
        }),
      );
    },
  );
}
