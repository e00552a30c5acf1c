/**
 * Rollouts (issue 11, docs/deploys.md): the list, newest first, and one rollout — who started it,
 * how long it has run, its waves, and per node pending / running / changed / unchanged / failed
 * with a link to the report that settled it; a preview's fleet-wide diff; resume and abort for an
 * operator.
 */
import { allows } from "../../roles.js";
import type { RolloutSummary, RolloutView } from "../../rollouts/view.js";
import { type ActionContext, actionButton } from "../actions.js";
import { ago, duration, type Html, html } from "../html.js";
import { badge, nodeHref, reportHref } from "../layout.js";

const short = (sha: string | null) => (sha ? sha.slice(0, 12) : "none");

function row(r: RolloutSummary, now: number): Html {
  return html`<tr>
<td><a href="/ui/rollouts/${String(r.id)}">${r.noop ? "preview" : "rollout"} ${String(r.id)}</a></td>
<td><code>${short(r.commit)}</code></td>
<td>${badge(r.state)}</td>
<td>${r.nodes}</td>
<td>${r.started_by}</td>
<td title="${new Date(r.started_at).toISOString()}">${ago(r.started_at, now)}</td>
<td>${duration(r.elapsed_ms)}</td>
<td>${r.reason ?? ""}</td>
</tr>`;
}

export function rolloutsPage(rollouts: RolloutSummary[], now: number): Html {
  return html`<h1>Rollouts</h1>
<p class="muted">Deploy a commit from <a href="/ui/commits">the commits</a>, or with <code>tend deploy</code> (docs/deploys.md).</p>
${
  rollouts.length === 0
    ? html`<p class="empty">No rollout yet.</p>`
    : html`<table class="rollouts-table"><thead><tr><th>rollout</th><th>commit</th><th>state</th><th>nodes</th><th>started by</th><th>started</th><th>elapsed</th><th></th></tr></thead><tbody>
${rollouts.map((r) => row(r, now))}
</tbody></table>`
}`;
}

function actions(r: RolloutView, ctx: ActionContext | undefined): Html | "" {
  if (!ctx || !allows(ctx.role, "operator")) return "";
  const base = `/ui/rollouts/${r.id}`;
  const buttons = [
    r.state === "halted" ? actionButton(ctx, `${base}/resume`, "Resume") : "",
    r.state === "running" || r.state === "halted"
      ? actionButton(ctx, `${base}/abort`, "Abort", { danger: true })
      : "",
  ];
  return buttons.some((b) => b !== "")
    ? html`<section class="actions" aria-label="actions">${buttons}</section>`
    : "";
}

function wave(w: RolloutView["waves"][number], now: number): Html {
  const took = w.started_at === null ? "" : duration((w.ended_at ?? now) - w.started_at);
  return html`<section class="wave" aria-label="${w.name}">
<h2>${w.name} ${badge(w.state)} <span class="muted">${w.nodes.length} node${w.nodes.length === 1 ? "" : "s"}${took ? html`, ${took}` : ""}</span></h2>
<table><thead><tr><th>node</th><th>state</th><th>changes</th><th>report</th><th></th></tr></thead><tbody>
${w.nodes.map(
  (n) => html`<tr>
<td><a href="${nodeHref(n.node)}">${n.node}</a></td>
<td>${badge(n.state)}</td>
<td class="num">${n.report_id ? String(n.changed) : ""}</td>
<td>${n.report_id ? html`<a href="${reportHref(n.report_id)}">report</a>` : ""}</td>
<td>${n.error ? html`<span class="error-text">${n.error}</span>` : ""}</td>
</tr>`,
)}
</tbody></table>
</section>`;
}

export function rolloutPage(r: RolloutView, now: number, ctx: ActionContext | undefined): Html {
  const total = r.waves.reduce((n, w) => n + w.nodes.length, 0);
  const diff = r.noop
    ? html`<p class="summary" role="status">This commit would change <b>${String(r.changes.resources)}</b> resource${r.changes.resources === 1 ? "" : "s"} on <b>${String(r.changes.nodes)}</b> node${r.changes.nodes === 1 ? "" : "s"}${r.counts.pending + r.counts.running > 0 ? html` <span class="muted">(${String(r.counts.pending + r.counts.running)} of ${String(total)} not reported yet)</span>` : ""}.</p>`
    : "";
  return html`<h1>${r.noop ? "Preview" : "Rollout"} ${String(r.id)} ${badge(r.state)}</h1>
<p>Commit <code>${short(r.commit)}</code>${r.noop ? "" : html`, from <code>${short(r.from)}</code>`}, nodes <code>${r.nodes}</code>; started by <b>${r.started_by}</b> ${ago(r.started_at, now)}, elapsed ${duration(r.elapsed_ms)}.</p>
${r.reason ? html`<p class="error" role="alert">${r.reason}</p>` : ""}
${diff}
<section class="cards" aria-label="nodes">
${(["pending", "running", "changed", "unchanged", "failed"] as const).map(
  (s) =>
    html`<span class="card${s === "failed" && r.counts.failed ? " bad" : ""}"><b>${String(r.counts[s])}</b><span>${s}</span></span>`,
)}
</section>
${actions(r, ctx)}
${r.waves.map((w) => wave(w, now))}`;
}
