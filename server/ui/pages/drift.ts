/**
 * Drift across the fleet: every resource that is drifted in some node's latest report, grouped by
 * resource id, with how often it drifted on each node (all stored reports) and since when.
 */
import type { Storage } from "../../storage/types.js";
import { ago, type Html, html } from "../html.js";
import { nodeHref, pager, reportHref } from "../layout.js";

const groupsPerPage = 50;

interface Group {
  resource: string;
  type: string;
  nodes: { node: string; report: string; times: number; first: string }[];
  times: number;
  first: string;
}

export async function driftPage(storage: Storage, page: number, now: number): Promise<Html> {
  const rows = await storage.drift();
  const byResource = new Map<string, Group>();
  for (const r of rows) {
    let g = byResource.get(r.resource);
    if (!g) {
      g = { resource: r.resource, type: r.type, nodes: [], times: 0, first: r.started_at };
      byResource.set(r.resource, g);
    }
    g.nodes.push({ node: r.node, report: r.report_id, times: 1, first: r.started_at });
  }
  const all = [...byResource.values()].sort(
    (a, b) => b.nodes.length - a.nodes.length || a.resource.localeCompare(b.resource),
  );
  const pages = Math.max(1, Math.ceil(all.length / groupsPerPage));
  const shown = all.slice((page - 1) * groupsPerPage, page * groupsPerPage);
  const history = await storage.ui.driftHistory(shown.map((g) => g.resource));
  const key = (resource: string, node: string) => `${resource}\0${node}`;
  const hist = new Map(history.map((h) => [key(h.resource, h.node), h]));
  for (const g of shown) {
    for (const n of g.nodes) {
      const h = hist.get(key(g.resource, n.node));
      if (h) {
        n.times = h.times;
        n.first = h.first;
      }
      g.times += n.times;
      if (n.first < g.first) g.first = n.first;
    }
    g.nodes.sort((a, b) => b.times - a.times || a.node.localeCompare(b.node));
  }
  return html`<h1>Drift</h1>
<p class="muted">${all.length} resource${all.length === 1 ? "" : "s"} drifted on ${new Set(rows.map((r) => r.node)).size} node(s) in their latest report. "Times" counts the stored reports in which the resource had drifted on that node; "first" is the earliest of them.</p>
${shown.length === 0 ? html`<p class="empty">Nothing has drifted.</p>` : ""}
${shown.map(
  (g) => html`<section class="drift-group">
<h2><code>${g.resource}</code> <span class="muted">${g.nodes.length} node${g.nodes.length === 1 ? "" : "s"} · drifted ${g.times} time${g.times === 1 ? "" : "s"} · first ${ago(g.first, now)}</span></h2>
<table><thead><tr><th>node</th><th class="num">times</th><th>first drifted</th><th>latest report</th></tr></thead><tbody>
${g.nodes.map((n) => html`<tr><td><a href="${nodeHref(n.node)}">${n.node}</a></td><td class="num">${n.times}</td><td title="${n.first}">${ago(n.first, now)}</td><td><a href="${reportHref(n.report)}">report</a></td></tr>`)}
</tbody></table>
</section>`,
)}
${pager("/ui/drift", {}, page, pages)}`;
}
