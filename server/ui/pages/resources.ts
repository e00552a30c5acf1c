/** A report's resources as the node and report pages show them: status, drift or deploy, changes, diff, error, output. */
import { unknownReason } from "../../../core/outcome.js";
import type { ResourceReport } from "../../../core/types.js";
import { changesWithContent } from "../content-change.js";
import { type Html, html } from "../html.js";
import { badge, driftTag } from "../layout.js";

function resource(r: ResourceReport): Html {
  return html`<article class="resource st-${r.status}">
<header><code class="rid">${r.id}</code> ${badge(r.status)} ${driftTag(r)} ${r.contested ? html`<span class="tag contested" title="repaired more often than the agent's fight guard allows: left alone until the next scheduled run">contested</span>` : ""} <span class="muted">${r.duration_ms.toFixed(1)} ms</span></header>
${changesWithContent(r)}
${r.status === "unknown" ? html`<p class="muted">unknown: ${unknownReason(r)}</p>` : r.error ? html`<pre class="error">${r.error}</pre>` : ""}
${r.output ? html`<details open><summary>output</summary><pre class="output">${r.output}</pre></details>` : ""}
</article>`;
}

export function resourceList(resources: ResourceReport[], o: { collapseUnchanged?: boolean } = {}): Html {
  if (!o.collapseUnchanged) return html`${resources.map(resource)}`;
  const busy = resources.filter((r) => r.status !== "unchanged");
  const calm = resources.filter((r) => r.status === "unchanged");
  return html`${busy.map(resource)}
${calm.length ? html`<details class="unchanged"><summary>${calm.length} unchanged resource${calm.length === 1 ? "" : "s"}</summary><ul>${calm.map((r) => html`<li><code>${r.id}</code></li>`)}</ul></details>` : ""}`;
}
