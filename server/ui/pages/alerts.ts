/**
 * Alerts: every open condition with its age (and, while clearing, when it resolves unless it
 * returns), each sink's health and backlog, and the newest deliveries with their status and error.
 * No secret is shown: a sink is its name, type and host.
 */
import type { Sink } from "../../alerts/sinks.js";
import type { ConditionRecord, OutboxRow } from "../../storage/alert-types.js";
import type { Storage } from "../../storage/types.js";
import { ago, duration, type Html, html } from "../html.js";
import { nodeHref, reportHref } from "../layout.js";

const shown = 500;

function conditionLink(c: ConditionRecord): Html | string {
  const report = c.details.report_id ?? c.details.last_report_id;
  if (typeof report === "string") return html`<a href="${reportHref(report)}">report</a>`;
  if (c.kind === "refused-commit") return html`<a href="/ui/commits">commits</a>`;
  return "";
}

function conditionState(c: ConditionRecord, now: number): Html {
  if (c.state === "clearing" && c.clear_at !== null) {
    return html`<span class="badge s-changed" title="held for the flap window">recovering</span> <span class="muted">resolves in ${duration(c.clear_at - now)} unless it returns</span>`;
  }
  return html`<span class="badge s-failed">open</span>`;
}

/** The open conditions as table rows (also on the fleet page). */
export function conditionRows(conditions: ConditionRecord[], now: number): Html {
  return html`${conditions.map(
    (c) => html`<tr>
<td><span class="tag k-${c.kind.replace(/[^a-z-]/g, "")}">${c.kind}</span></td>
<td>${c.node ? html`<a href="${nodeHref(c.node)}">${c.subject}</a>` : c.subject}</td>
<td>${c.summary}</td>
<td>${conditionState(c, now)}${c.flaps > 0 ? html` <span class="muted">flapped ${c.flaps}×</span>` : ""}</td>
<td title="${new Date(c.opened_at).toISOString()}">${duration(now - c.opened_at)}</td>
<td>${conditionLink(c)}</td>
</tr>`,
  )}`;
}

function deliveryRow(d: OutboxRow, now: number): Html {
  const cls = d.state === "sent" ? "s-unchanged" : d.state === "failed" ? "s-failed" : "s-stale";
  const when = d.done_at ?? d.created_at;
  const retry =
    d.state === "pending" && d.attempts > 0
      ? html` <span class="muted">next try in ${duration(d.next_at - now)}</span>`
      : "";
  return html`<tr>
<td title="${new Date(when).toISOString()}">${ago(when, now)}</td>
<td>${d.sink}</td>
<td><code>tend/${d.subject}/${d.kind}</code></td>
<td>${d.action}</td>
<td><span class="badge ${cls}">${d.state}</span>${retry}</td>
<td class="num">${d.attempts}</td>
<td>${d.last_status ?? ""}</td>
<td>${d.last_error ? html`<span class="error-text">${d.last_error}</span>` : ""}</td>
</tr>`;
}

export async function alertsPage(storage: Storage, sinks: Sink[], now: number): Promise<Html> {
  const [conditions, counts, deliveries, depth, states] = await Promise.all([
    storage.alerts.openConditions(shown),
    storage.alerts.conditionCounts(),
    storage.alerts.recentDeliveries(100),
    storage.alerts.outboxDepth(),
    storage.alerts.sinkStates(),
  ]);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const state = new Map(states.map((s) => [s.name, s]));
  return html`<h1>Alerts</h1>
<section class="cards" aria-label="open conditions">
<span class="card ${total ? "bad" : "ok"}"><b>${total}</b><span>open</span></span>
${Object.entries(counts).map(([k, n]) => html`<span class="card warn"><b>${n}</b><span>${k}</span></span>`)}
</section>
<h2>Open conditions</h2>
${
  conditions.length === 0
    ? html`<p class="empty">Nothing is failing, stale, drifted or refused.</p>`
    : html`<table class="alerts-table"><thead><tr><th>condition</th><th>subject</th><th>summary</th><th>state</th><th>open for</th><th></th></tr></thead><tbody>
${conditionRows(conditions, now)}
</tbody></table>${total > shown ? html`<p class="muted">The oldest ${shown} of ${total}.</p>` : ""}`
}
<h2>Sinks</h2>
${
  sinks.length === 0
    ? html`<p class="empty">No sink is configured: conditions are shown here only. docs/alerts.md shows how to wire PagerDuty and Slack.</p>`
    : html`<table><thead><tr><th>sink</th><th>where</th><th>gets</th><th>pending</th><th>health</th></tr></thead><tbody>
${sinks.map((s) => {
  const st = state.get(s.name);
  const paused = st && st.paused_until > now;
  const health = paused
    ? html`<span class="badge s-failed">retrying</span> <span class="error-text">${st?.last_error ?? ""}</span> <span class="muted">(next try in ${duration((st?.paused_until ?? now) - now)})</span>`
    : st?.last_ok_at
      ? html`<span class="badge s-unchanged">ok</span> <span class="muted">last delivery ${ago(st.last_ok_at, now)}</span>`
      : html`<span class="badge s-none">idle</span>`;
  return html`<tr><td>${s.name}</td><td>${s.where}</td><td>${s.on.join(", ")}</td><td class="num">${depth[s.name] ?? 0}</td><td>${health}</td></tr>`;
})}
</tbody></table>`
}
<h2>Recent deliveries</h2>
${
  deliveries.length === 0
    ? html`<p class="empty">No alert sent yet.</p>`
    : html`<table><thead><tr><th>when</th><th>sink</th><th>dedup key</th><th>action</th><th>state</th><th class="num">attempts</th><th>status</th><th>error</th></tr></thead><tbody>
${deliveries.map((d) => deliveryRow(d, now))}
</tbody></table>`
}`;
}
