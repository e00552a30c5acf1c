/** The audit log (admins): who did what, to which nodes, when and from where, newest first. */
import type { Storage } from "../../storage/types.js";
import { ago, type Html, html, query } from "../html.js";
import { nodeHref } from "../layout.js";

const perPage = 100;
/** Nodes listed in a row before "and N more". */
const nodesShown = 8;

export async function auditPage(
  storage: Storage,
  before: number | undefined,
  action: string | undefined,
  now: number,
): Promise<Html> {
  const rows = await storage.readAudit({ limit: perPage, before, action });
  const last = rows.at(-1);
  const details = (d: Record<string, unknown>) =>
    Object.entries(d)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
  return html`<h1>Audit log</h1>
<p class="muted">Every action of the console, the admin API and <code>tend server</code> commands, newest first. Entries are never changed or deleted.${action ? html` Showing <code>${action}</code> only: <a href="/ui/audit">all actions</a>.` : ""}</p>
<table class="audit"><thead><tr><th>when</th><th>who</th><th>role</th><th>action</th><th>nodes</th><th>details</th><th>from</th></tr></thead><tbody>
${rows.map(
  (e) => html`<tr>
<td title="${new Date(e.at).toISOString()}">${new Date(e.at).toISOString().replace("T", " ").slice(0, 19)} <span class="muted">${ago(e.at, now)}</span></td>
<td>${e.actor}</td><td>${e.role}</td>
<td><a href="/ui/audit${query({ action: e.action })}"><code>${e.action}</code></a></td>
<td>${e.nodes.slice(0, nodesShown).map((n, i) => html`${i ? ", " : ""}<a href="${nodeHref(n)}">${n}</a>`)}${e.nodes.length > nodesShown ? ` and ${e.nodes.length - nodesShown} more` : ""}</td>
<td><code>${details(e.details)}</code></td>
<td>${e.address ?? "server box"}</td>
</tr>`,
)}
</tbody></table>
${rows.length === 0 ? html`<p class="empty">Nothing recorded yet.</p>` : ""}
${rows.length === perPage && last ? html`<nav class="pager"><span></span><a href="/ui/audit${query({ before: last.id, action })}" rel="next">older →</a></nav>` : ""}`;
}
