/** The fleet at a glance: counts, then every node (filtered, sorted, paginated) with its last runs. */

import { type Expr, maxLength, parseSearch, SearchError } from "../../search/parse.js";
import type { ConditionRecord } from "../../storage/alert-types.js";
import type { Storage } from "../../storage/types.js";
import type { FleetQuery, FleetSort, StaleCut } from "../../storage/ui-types.js";
import { type ActionContext, fleetActions } from "../actions.js";
import { strip } from "../charts.js";
import { ago, type Html, html, query, shortSha } from "../html.js";
import { badge, duplicateAlerts, nodeHref, pageParam, pager } from "../layout.js";
import { conditionRows } from "./alerts.js";

export const pageSize = 50;
const sorts: FleetSort[] = ["name", "last_run", "status", "drifted", "commit"];
const statuses = ["changed", "unchanged", "failed", "stale", "none"];

export interface FleetParams {
  status?: string;
  drifted?: boolean;
  stale?: boolean;
  q?: string;
  /** A fleet search (docs/dashboard.md). */
  where?: string;
  sort: FleetSort;
  desc: boolean;
  page: number;
}

export function fleetParams(q: Record<string, unknown>): FleetParams {
  const s = (k: string) => (typeof q[k] === "string" ? (q[k] as string) : undefined);
  const sort = sorts.find((x) => x === s("sort")) ?? "name";
  return {
    status: statuses.find((x) => x === s("status")),
    drifted: s("drifted") === "1",
    stale: s("stale") === "1",
    q: s("q")?.trim().slice(0, 253) || undefined,
    where: s("where")?.trim().slice(0, maxLength) || undefined,
    sort,
    desc: s("dir") === "desc",
    page: pageParam(q.page),
  };
}

/** The open alert conditions, the oldest ten, with a link to the Alerts page. */
function openAlerts(conditions: ConditionRecord[], counts: Record<string, number>, now: number): Html | "" {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total === 0) return "";
  const byKind = Object.entries(counts)
    .map(([k, n]) => `${n} ${k}`)
    .join(", ");
  return html`<section class="open-alerts" aria-label="open alerts">
<h2>${total} open alert${total === 1 ? "" : "s"} <span class="muted">(${byKind})</span> <a href="/ui/alerts">all alerts →</a></h2>
<table class="alerts-table"><tbody>
${conditionRows(conditions, now)}
</tbody></table>
</section>`;
}

export async function fleetPage(
  storage: Storage,
  p: FleetParams,
  stale: StaleCut,
  now: number,
  ctx?: ActionContext,
): Promise<Html> {
  const live = await storage.liveCommit();
  const search = parseWhere(p.where);
  const fq: FleetQuery = {
    where: search.expr,
    live,
    status: p.status,
    driftedOnly: p.drifted,
    staleOnly: p.stale,
    search: p.q,
    stale,
    sort: p.sort,
    desc: p.desc,
    offset: (p.page - 1) * pageSize,
    limit: pageSize,
  };
  const [counts, { rows, total }, duplicates, alerts, alertCounts] = await Promise.all([
    storage.ui.fleetCounts(stale, live),
    search.error ? { rows: [], total: 0 } : storage.ui.fleet(fq),
    storage.duplicateIdentities(),
    storage.alerts.openConditions(10),
    storage.alerts.conditionCounts(),
  ]);
  const runs = await storage.ui.recentRuns(
    rows.map((r) => r.name),
    30,
  );
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const keep = { status: p.status, drifted: p.drifted, stale: p.stale, q: p.q, where: p.where };
  const sortLink = (key: FleetSort, label: string) => {
    const active = p.sort === key;
    const desc = active ? !p.desc : key === "last_run" || key === "drifted";
    const arrow = active ? (p.desc ? " ↓" : " ↑") : "";
    return html`<th${active ? html` aria-sort="${p.desc ? "descending" : "ascending"}"` : ""}><a href="/ui/${query({ ...keep, sort: key, dir: desc ? "desc" : "asc" })}">${label}${arrow}</a></th>`;
  };
  const card = (n: number, label: string, href: string, cls = "") =>
    html`<a class="card ${cls}" href="${href}"><b>${n}</b><span>${label}</span></a>`;
  return html`<h1>Fleet <a class="h-link" href="/ui/timeline">timeline →</a></h1>
${duplicateAlerts(duplicates, now)}
${openAlerts(alerts, alertCounts, now)}
<section class="cards" aria-label="counts">
${card(counts.nodes, "nodes", "/ui/")}
${card(counts.failing, "failing", "/ui/?status=failed", counts.failing ? "bad" : "")}
${card(counts.drifted, "drifted", "/ui/?drifted=1", counts.drifted ? "warn" : "")}
${card(counts.stale, "stale", "/ui/?stale=1", counts.stale ? "warn" : "")}
${card(counts.onLive, `on the newest commit ${shortSha(live)}`, "/ui/commits")}
</section>
<form class="filters" method="get" action="/ui/" role="search">
<label class="where">search <input type="search" name="where" value="${p.where ?? ""}" size="60" placeholder="os.version_id = 12 and package:nginx failed" aria-describedby="where-help"${search.error ? html` aria-invalid="true"` : ""}></label>
<details id="where-help" class="search-help"><summary>search help</summary>
<p>Terms: a fact <code>os.version_id = 12</code> (also <code>!= &lt; &gt; &lt;= &gt;=</code>, <code>~</code> glob with <code>*</code> <code>?</code>);
a resource and its state in the last report <code>package:nginx failed</code>, <code>file:/etc/nginx/* drifted</code> (changed, failed, drifted, skipped, unknown);
<code>commit != live</code>, <code>name ~ web-*</code>, <code>status = failed</code>, <code>stale</code>, <code>failing</code>, <code>drifted</code>.
Combine with <code>and</code>, <code>or</code>, <code>not</code> and parentheses; quote values with spaces.</p></details>
<label>status <select name="status"><option value="">any</option>${statuses.map((s) => html`<option${p.status === s ? html` selected` : ""}>${s}</option>`)}</select></label>
<label><input type="checkbox" name="drifted" value="1"${p.drifted ? html` checked` : ""}> drifted only</label>
<label><input type="checkbox" name="stale" value="1"${p.stale ? html` checked` : ""}> stale only</label>
<label>name <input type="search" name="q" value="${p.q ?? ""}" placeholder="web-"></label>
<input type="hidden" name="sort" value="${p.sort}">${p.desc ? html`<input type="hidden" name="dir" value="desc">` : ""}
<button type="submit">Filter</button> <a href="/ui/">clear</a>
</form>
${search.error ? html`<pre class="search-error" role="alert">${search.error}</pre>` : ""}
${ctx && !search.error ? fleetActions(ctx, filterFields(p), total) : ""}
<p class="muted">${total} node${total === 1 ? "" : "s"} shown${total !== counts.nodes ? ` of ${counts.nodes}` : ""}; stale means no report for more than two agent intervals.</p>
<table class="fleet">
<thead><tr>${sortLink("name", "node")}${sortLink("last_run", "last run")}${sortLink("status", "status")}${sortLink("drifted", "drifted")}${sortLink("commit", "commit")}<th>last 30 runs</th></tr></thead>
<tbody>
${rows.map(
  (r) => html`<tr${r.stale ? html` class="stale"` : ""}>
<td><a href="${nodeHref(r.name)}">${r.name}</a></td>
<td title="${r.last_report_at ?? ""}">${ago(r.last_report_at, now)}${r.stale ? html` <span class="tag stale">stale</span>` : ""}</td>
<td>${badge(r.last_status)}</td>
<td class="num">${r.drifted ? html`<span class="drift-count">${r.drifted}</span>` : "0"}</td>
<td><code${r.last_commit && r.last_commit === live ? html` class="live"` : ""}>${shortSha(r.last_commit)}</code></td>
<td>${strip(runs.get(r.name) ?? [])}</td>
</tr>`,
)}
</tbody>
</table>
${rows.length === 0 ? html`<p class="empty">No node matches.</p>` : ""}
${pager("/ui/", { ...keep, sort: p.sort, dir: p.desc ? "desc" : undefined }, p.page, pages)}`;
}

/** The filter as form fields, for the run / plan forms (routes/ui-actions.ts reads them back). */
export function filterFields(
  p: Pick<FleetParams, "status" | "drifted" | "stale" | "q" | "where">,
): Record<string, string | undefined> {
  const flag = (b?: boolean) => (b ? "1" : undefined);
  return { status: p.status, drifted: flag(p.drifted), stale: flag(p.stale), q: p.q, where: p.where };
}

/** The search box's text parsed, or the mistake to show above the (then empty) table. */
function parseWhere(where: string | undefined): { expr?: Expr; error?: string } {
  if (!where) return {};
  try {
    return { expr: parseSearch(where) };
  } catch (err) {
    if (err instanceof SearchError) return { error: err.message.replace(/^search: /, "") };
    throw err;
  }
}
