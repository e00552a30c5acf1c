/** A report's health checks as the node and report pages show them: status, reason, attempts, duration, excerpt. */
import type { CheckReport, Report } from "../../../core/types.js";
import { type Html, html } from "../html.js";
import { badge } from "../layout.js";

/** Milliseconds as the resources show them, seconds once a check took that long (retries). */
function duration(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function row(c: CheckReport): Html {
  return html`<tr class="check st-${c.status}"><td><code class="rid">${c.id}</code></td><td>${badge(c.status)}</td><td class="reason">${c.reason}${
    c.excerpt
      ? html`<details><summary>${c.type === "command" ? "output" : "body"}</summary><pre class="output">${c.excerpt}</pre></details>`
      : ""
  }</td><td class="num">${c.attempts}</td><td class="num">${duration(c.duration_ms)}</td></tr>`;
}

/** The checks' table, failed ones first; "" when the report has none (older agents, recipes without checks). */
export function checkList(checks: readonly CheckReport[] | undefined): Html | "" {
  if (!checks?.length) return "";
  const rank = { failed: 0, unknown: 1, skipped: 2, ok: 3 } as const;
  const sorted = [...checks].sort((a, b) => rank[a.status] - rank[b.status]);
  return html`<table class="checks"><thead><tr><th>check</th><th>status</th><th>reason</th><th class="num">attempts</th><th class="num">duration</th></tr></thead><tbody>
${sorted.map(row)}
</tbody></table>`;
}

/** "3 total: 2 ok, 1 failed" for a report's meta, or null without checks. */
export function checksSummary(r: Report): string | null {
  if (!r.checks?.length) return null;
  const n = { ok: 0, failed: 0, skipped: 0, unknown: 0 };
  for (const c of r.checks) n[c.status]++;
  const parts = (["ok", "failed", "skipped", "unknown"] as const)
    .filter((k) => n[k])
    .map((k) => `${n[k]} ${k}`);
  return `${r.checks.length} total: ${parts.join(", ")}`;
}
