/** One node: its facts, its runs over time, its latest report's checks and resources, and its older reports. */
import type { Facts, Json } from "../../../core/types.js";
import type { Storage } from "../../storage/types.js";
import { type ActionContext, nodeActions } from "../actions.js";
import { runsChart } from "../charts.js";
import { ago, type Html, html, shortSha } from "../html.js";
import { badge, duplicateAlerts, pager, reportHref } from "../layout.js";
import { checkList, checksSummary } from "./checks.js";
import { environmentLine } from "./environments.js";
import { filteredResources, type ResourceFilter } from "./resource-filter.js";

const reportsPerPage = 25;

function factsSummary(f: Facts | null): Html {
  if (!f) return html`<p class="muted">No facts yet (the node has not asked for a catalog).</p>`;
  const show = (v: Json | undefined) =>
    v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
  const os = f.os as Facts["os"] | undefined;
  const rows: [string, string][] = [
    ["hostname", show(f.hostname)],
    ["fqdn", show(f.fqdn)],
    ["os", os ? `${show(os.name ?? os.id)} (${show(os.id)} ${show(os.version_id)}, ${show(os.family)})` : ""],
    ["arch", show(f.arch)],
    ["kernel", show(f.kernel)],
    ["cpus", show(f.cpus)],
    ["memory", f.memory_mb === undefined ? "" : `${show(f.memory_mb)} MB`],
    ["ipv4", Array.isArray(f.ipv4) ? f.ipv4.map(show).join(", ") : show(f.ipv4)],
  ];
  return html`<dl class="facts">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
<details><summary>all facts</summary><pre class="json">${JSON.stringify(f, null, 2)}</pre></details>`;
}

export async function nodePage(
  storage: Storage,
  name: string,
  page: number,
  now: number,
  ctx?: ActionContext,
  show?: ResourceFilter,
): Promise<Html | null> {
  const info = await storage.ui.nodeInfo(name);
  if (!info) return null;
  const [chartRuns, listRuns, latest, duplicates, environment] = await Promise.all([
    storage.ui.nodeRuns(name, 60, 0),
    storage.ui.nodeRuns(name, reportsPerPage, (page - 1) * reportsPerPage),
    info.last_report_id ? storage.getReport(info.last_report_id) : Promise.resolve(undefined),
    storage.duplicateIdentities(),
    storage.nodeEnvironment(name),
  ]);
  const pages = Math.max(1, Math.ceil(info.reports / reportsPerPage));
  return html`<h1>${info.name} ${badge(info.last_status)}</h1>
${duplicateAlerts(
  duplicates.filter((d) => d.node === name),
  now,
)}
${ctx ? nodeActions(ctx, info.name) : ""}
<p class="muted">enrolled ${ago(info.enrolled_at, now)} · last seen ${ago(info.last_seen, now)} · commit <code>${shortSha(info.last_commit)}</code> · ${info.reports} report${info.reports === 1 ? "" : "s"}</p>
${environmentLine(environment)}
<section><h2>Facts</h2>${factsSummary(info.facts)}</section>
<section><h2>Runs over time</h2>${chartRuns.length ? runsChart(chartRuns) : html`<p class="muted">No runs yet.</p>`}</section>
<section><h2>Latest report</h2>
${
  latest
    ? html`<p><a href="${reportHref(latest.id)}">${latest.started_at}</a> · ${latest.mode}${latest.trigger === "watch" ? " · watch repair" : ""} · ${badge(latest.status)} · ${latest.summary.changed} changed, ${latest.summary.drifted} drifted, ${latest.summary.failed} failed, ${latest.summary.unchanged} unchanged${checksSummary(latest) ? ` · checks: ${checksSummary(latest)}` : ""}</p>
${checkList(latest.checks)}
<div id="resources">${filteredResources(latest.resources, `/ui/nodes/${encodeURIComponent(name)}`, show)}</div>`
    : html`<p class="muted">No report yet.</p>`
}
</section>
<section id="reports"><h2>Reports</h2>
<table class="reports"><thead><tr><th>started</th><th>mode</th><th>trigger</th><th>status</th><th class="num">changed</th><th class="num">drifted</th><th class="num">failed</th><th>commit</th></tr></thead><tbody>
${listRuns.map(
  (r) =>
    html`<tr><td><a href="${reportHref(r.id)}">${r.started_at}</a> <span class="muted">${ago(r.started_at, now)}</span></td><td>${r.mode}</td><td>${triggerCell(r.trigger)}</td><td>${badge(r.status)}</td><td class="num">${r.changed}</td><td class="num">${r.drifted}</td><td class="num">${r.failed}</td><td><code>${shortSha(r.commit)}</code></td></tr>`,
)}
</tbody></table>
${pager(`/ui/nodes/${encodeURIComponent(name)}`, {}, page, pages)}
</section>`;
}

/** The reports table's trigger cell: the short word (the report page says more). */
function triggerCell(trigger: string | null | undefined): string {
  if (trigger === "watch") return "watch repair";
  return trigger === "schedule" || trigger === "push" || trigger === "manual" ? trigger : "—";
}
