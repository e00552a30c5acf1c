/** One report in full: every resource with status, duration, changes, diff, error and exec output; every health check. */
import type { Report } from "../../../core/types.js";
import { ago, type Html, html, shortSha } from "../html.js";
import { badge, nodeHref } from "../layout.js";
import { checkList, checksSummary } from "./checks.js";
import { resourceList } from "./resources.js";

/** What started a run, in words; a watch run converged only what changed (and what that notifies). */
export function triggerText(trigger: NonNullable<Report["trigger"]>): string {
  if (trigger === "watch")
    return "watch: a change seen on the box, repaired at once (only what changed was converged)";
  if (trigger === "schedule") return "schedule";
  if (trigger === "push") return "push: the server asked for this run";
  return "manual: tend agent run by hand";
}

export function reportPage(r: Report, now: number): Html {
  const s = r.summary;
  const checks = checksSummary(r);
  return html`<h1>Report <code>${r.id}</code></h1>
<dl class="meta">
<dt>node</dt><dd><a href="${nodeHref(r.node)}">${r.node}</a></dd>
<dt>status</dt><dd>${badge(r.status)}</dd>
<dt>mode</dt><dd>${r.mode}</dd>
${r.trigger ? html`<dt>trigger</dt><dd>${triggerText(r.trigger)}</dd>` : ""}
${r.contested?.length ? html`<dt>contested</dt><dd>${r.contested.map((id) => html`<code>${id}</code> `)}<span class="muted">left alone by watch mode until the next scheduled run: something else keeps changing them</span></dd>` : ""}
<dt>started</dt><dd>${r.started_at} <span class="muted">${ago(r.started_at, now)}</span></dd>
<dt>duration</dt><dd>${(r.duration_ms / 1000).toFixed(2)} s</dd>
<dt>commit</dt><dd>${
    r.unverified_commit
      ? html`<span class="tag contested">unverified</span> the node named <code title="${r.unverified_commit}">${shortSha(r.unverified_commit)}</code>, which this server never served it; not counted as on any commit`
      : html`<code title="${r.commit ?? ""}">${shortSha(r.commit)}</code>`
  }</dd>
<dt>catalog</dt><dd>${r.catalog_source}${r.catalog_age_s ? `, ${r.catalog_age_s} s old` : ""}</dd>
<dt>resources</dt><dd>${s.total} total: ${s.changed} changed, ${s.drifted} drifted, ${s.failed} failed, ${s.skipped} skipped, ${s.unchanged} unchanged${s.unknown ? `, ${s.unknown} unknown` : ""}</dd>
${checks ? html`<dt>checks</dt><dd>${checks}</dd>` : ""}
</dl>
${r.error ? html`<pre class="error">${r.error}</pre>` : ""}
${checks ? html`<section id="checks"><h2>Checks</h2>${checkList(r.checks)}</section>` : ""}
<h2>Resources</h2>
${resourceList(r.resources)}`;
}
