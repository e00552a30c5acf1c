/**
 * Every ingested commit of one branch, valid or refused (with its file:line errors), and, on the
 * default environment, the live one's rollout. Tabs name every followed branch (environments).
 */
import { formatProblem } from "../../../core/errors.js";
import type { CommitRecord, Storage } from "../../storage/types.js";
import type { StaleCut } from "../../storage/ui-types.js";
import { type ActionContext, commitActions } from "../actions.js";
import { ago, type Html, html, shortSha } from "../html.js";

export interface BranchTabs {
  /** The branch shown, and its storage key (undefined: the default environment's). */
  branch: string;
  key: string | undefined;
  /** Every followed branch, the default first. */
  branches: string[];
}

export async function commitsPage(
  storage: Storage,
  stale: StaleCut,
  now: number,
  ctx?: ActionContext,
  tabs?: BranchTabs,
): Promise<Html> {
  const key = tabs?.key;
  const [commits, live] = await Promise.all([storage.listCommits(100, key), storage.liveCommit(key)]);
  // Re-check and deploy act on the default environment's commits (gate.recheck's default branch).
  if (key !== undefined) ctx = undefined;
  const nav =
    tabs && tabs.branches.length > 1
      ? html`<nav class="tabs" aria-label="branches">${tabs.branches.map((b) =>
          b === tabs.branch
            ? html`<b class="tab">${b}</b> `
            : html`<a class="tab" href="/ui/commits?branch=${encodeURIComponent(b)}">${b}</a> `,
        )}</nav>`
      : "";
  const heading = nav ? html`<h1>Commits of <code>${tabs?.branch}</code></h1>${nav}` : html`<h1>Commits</h1>`;
  if (key !== undefined) return html`${heading}${commitTable(commits, live, now, ctx)}`;
  const rollout = await storage.ui.rollout(live, stale);
  const total = rollout.converged + rollout.failed + rollout.older + rollout.stale;
  const part = (n: number, cls: string, label: string, href: string) =>
    html`<a class="card ${cls}" href="${href}"><b>${n}</b><span>${label}</span></a>`;
  let x = 0;
  const bar = (n: number, cls: string) => {
    if (!n || !total) return "";
    const w = (n / total) * 1000;
    const rect = html`<rect x="${x.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="12" class="${cls}"/>`;
    x += w;
    return rect;
  };
  return html`${heading}
<section><h2>Rollout of ${live ? html`<code>${shortSha(live)}</code>` : "no valid commit yet"}</h2>
<section class="cards">
${part(rollout.converged, "ok", "converged on it", "/ui/?status=unchanged")}
${part(rollout.failed, rollout.failed ? "bad" : "", "failed on it", "/ui/?status=failed")}
${part(rollout.older, rollout.older ? "warn" : "", "on an older commit", "/ui/?sort=commit")}
${part(rollout.stale, rollout.stale ? "warn" : "", "stale", "/ui/?stale=1")}
</section>
<svg class="rollout" viewBox="0 0 1000 12" preserveAspectRatio="none" role="img" aria-label="rollout">${bar(rollout.converged, "r-ok")}${bar(rollout.failed, "r-failed")}${bar(rollout.older, "r-older")}${bar(rollout.stale, "r-stale")}</svg>
</section>
${commitTable(commits, live, now, ctx)}`;
}

function commitTable(commits: CommitRecord[], live: string | null, now: number, ctx?: ActionContext): Html {
  return html`<table class="commits"><thead><tr><th>commit</th><th>summary</th><th>seen</th><th>state</th>${ctx && commitActions(ctx, "", false) ? html`<th>actions</th>` : ""}</tr></thead><tbody>
${commits.map(
  (c) => html`<tr${c.sha === live ? html` class="live"` : ""}>
<td><code title="${c.sha}">${shortSha(c.sha)}</code></td>
<td>${c.summary}${c.problems.length ? html`<ul class="problems">${c.problems.map((p) => html`<li><code>${formatProblem(p)}</code></li>`)}</ul>` : ""}</td>
<td>${ago(c.seen_at, now)}</td>
<td>${c.sha === live ? html`<span class="badge s-live">live</span>` : c.valid ? html`<span class="badge s-unchanged">valid</span>` : html`<span class="badge s-failed">refused</span>`}</td>
${ctx && commitActions(ctx, c.sha, c.valid) ? html`<td>${commitActions(ctx, c.sha, c.valid)}</td>` : ""}
</tr>`,
)}
</tbody></table>
${commits.length === 0 ? html`<p class="empty">No commit ingested yet.</p>` : ""}`;
}
