/**
 * The console's buttons: each is a small form that POSTs with the session's CSRF token and opens
 * a confirmation page first (routes/ui-actions.ts), so every action works without JavaScript and
 * none happens on one click. A button is shown only to a role that may use it; run, plan and
 * deploy are shown disabled, saying why, while the push channel is not connected.
 */
import { allows, type Role } from "../roles.js";
import { type Html, html } from "./html.js";

export interface ActionContext {
  role: Role;
  csrf: string;
  /** Whether issue 11's push channel (run / plan now) is connected. */
  push: boolean;
  /** Whether issue 11's rollouts (deploy) are connected. */
  rollouts: boolean;
}

export const pushMissing = "the push channel is not available on this server";

/** One button in its own form; `fields` travel as hidden inputs. */
export function actionButton(
  ctx: ActionContext,
  action: string,
  label: string,
  o: { fields?: Record<string, string | undefined>; danger?: boolean; disabled?: string } = {},
): Html {
  const hidden = Object.entries(o.fields ?? {}).filter(([, v]) => v !== undefined && v !== "");
  return html`<form method="post" action="${action}" class="action">
<input type="hidden" name="_csrf" value="${ctx.csrf}">${hidden.map(([k, v]) => html`<input type="hidden" name="${k}" value="${v ?? ""}">`)}
<button type="submit"${o.danger ? html` class="danger"` : ""}${o.disabled ? html` disabled title="${o.disabled}"` : ""}>${label}</button>
</form>`;
}

/** The node page's actions: run / plan now (operator), revoke and a re-enrolment token (admin). */
export function nodeActions(ctx: ActionContext, name: string): Html | "" {
  if (!allows(ctx.role, "operator")) return "";
  const base = `/ui/nodes/${encodeURIComponent(name)}`;
  const noPush = ctx.push ? undefined : pushMissing;
  return html`<section class="actions" aria-label="actions">
${actionButton(ctx, `${base}/run`, "Run now", { disabled: noPush })}
${actionButton(ctx, `${base}/plan`, "Plan now", { disabled: noPush })}
${
  allows(ctx.role, "admin")
    ? html`${actionButton(ctx, `${base}/reenroll-token`, "Re-enrolment token")}
${actionButton(ctx, `${base}/revoke`, "Revoke", { danger: true })}`
    : ""
}
${noPush ? html`<span class="muted">Run and plan now: ${noPush}.</span>` : ""}
</section>`;
}

/** The fleet page's actions: run / plan the nodes the filter selects (operator), a token (admin). */
export function fleetActions(
  ctx: ActionContext,
  filter: Record<string, string | undefined>,
  count: number,
): Html | "" {
  if (!allows(ctx.role, "operator")) return "";
  const noPush = ctx.push ? undefined : pushMissing;
  const nodes = `${count} node${count === 1 ? "" : "s"}`;
  return html`<section class="actions" aria-label="actions">
${actionButton(ctx, "/ui/fleet/run", `Run now: ${nodes}`, { fields: filter, disabled: count === 0 ? "no node selected" : noPush })}
${actionButton(ctx, "/ui/fleet/plan", `Plan now: ${nodes}`, { fields: filter, disabled: count === 0 ? "no node selected" : noPush })}
${allows(ctx.role, "admin") ? actionButton(ctx, "/ui/tokens", "New enrolment token") : ""}
${noPush ? html`<span class="muted">Run and plan now: ${noPush}.</span>` : html`<span class="muted">Run and plan apply to the nodes the filter above selects.</span>`}
</section>`;
}

/** A commit's actions (operator): re-check it, and deploy it when it is valid. */
export function commitActions(ctx: ActionContext, sha: string, valid: boolean): Html | "" {
  if (!allows(ctx.role, "operator")) return "";
  const base = `/ui/commits/${sha}`;
  return html`<div class="row-actions">${actionButton(ctx, `${base}/recheck`, "Re-check")}${
    valid
      ? actionButton(ctx, `${base}/deploy`, "Deploy", {
          disabled: ctx.rollouts ? undefined : "rollouts are not available on this server (the push channel)",
        })
      : ""
  }</div>`;
}
