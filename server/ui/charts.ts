/**
 * Inline SVG charts: the fleet's strip of a node's last runs and the node page's runs over time.
 * Numbers and fixed colour classes only; any text shown (titles) goes through `html` escaping.
 */
import type { RunPoint } from "../storage/ui-types.js";
import { type Html, html } from "./html.js";

/** The class a run is coloured by: failed beats drift beats changed. */
export function runClass(r: RunPoint): string {
  if (r.status === "failed") return "failed";
  if (r.drifted > 0) return "drift";
  if (r.status === "changed") return r.mode === "noop" ? "noop" : "changed";
  if (r.status === "stale") return "stale";
  return "ok";
}

/** Newest last, one cell per run; `runs` arrive newest first. */
export function strip(runs: RunPoint[], slots = 30): Html {
  const w = 7;
  const empty = Array.from(
    { length: Math.max(0, slots - runs.length) },
    (_, i) => html`<rect x="${i * w}" y="0" width="${w - 2}" height="14" class="r-none"/>`,
  );
  const cells = [...runs].reverse().map((r, i) => {
    const x = (slots - runs.length + i) * w;
    // No link per cell: 30 cells × 50 rows of links would weigh more than the rest of the page.
    return html`<rect x="${x}" y="0" width="${w - 2}" height="14" class="r-${runClass(r)}"><title>${r.started_at.slice(0, 16)} ${r.status}${r.drifted ? ` ${r.drifted} drifted` : ""}</title></rect>`;
  });
  return html`<svg class="strip" width="${slots * w}" height="14" viewBox="0 0 ${slots * w} 14" role="img" aria-label="last ${runs.length} runs">${empty}${cells}</svg>`;
}

/** Stacked bars per run (changed, drift, failed), oldest left; `runs` arrive newest first. */
export function runsChart(runs: RunPoint[]): Html {
  const ordered = [...runs].reverse();
  const width = 720;
  const height = 160;
  const pad = { l: 32, r: 8, t: 8, b: 22 };
  const plotW = width - pad.l - pad.r;
  const plotH = height - pad.t - pad.b;
  const max = Math.max(1, ...ordered.map((r) => r.changed + r.failed));
  const bw = Math.min(24, ordered.length ? plotW / ordered.length : plotW);
  const y = (v: number) => pad.t + plotH - (v / max) * plotH;
  const bars = ordered.map((r, i) => {
    const x = pad.l + i * bw + 1;
    const w = Math.max(1, bw - 2);
    // drift is a part of changed: drawn over the bottom of the changed bar
    const changed = r.changed;
    const drift = Math.min(r.drifted, changed);
    const parts: Html[] = [];
    if (changed > 0)
      parts.push(
        html`<rect x="${x.toFixed(1)}" y="${y(changed).toFixed(1)}" width="${w.toFixed(1)}" height="${(y(0) - y(changed)).toFixed(1)}" class="c-changed"/>`,
      );
    if (drift > 0)
      parts.push(
        html`<rect x="${x.toFixed(1)}" y="${y(drift).toFixed(1)}" width="${w.toFixed(1)}" height="${(y(0) - y(drift)).toFixed(1)}" class="c-drift"/>`,
      );
    if (r.failed > 0)
      parts.push(
        html`<rect x="${x.toFixed(1)}" y="${y(changed + r.failed).toFixed(1)}" width="${w.toFixed(1)}" height="${(y(0) - y(r.failed)).toFixed(1)}" class="c-failed"/>`,
      );
    if (parts.length === 0)
      parts.push(
        html`<rect x="${x.toFixed(1)}" y="${(y(0) - 2).toFixed(1)}" width="${w.toFixed(1)}" height="2" class="c-ok"/>`,
      );
    return html`<a href="/ui/reports/${encodeURIComponent(r.id)}"><g><title>${r.started_at}: ${r.changed} changed, ${r.drifted} drifted, ${r.failed} failed</title>${parts}</g></a>`;
  });
  const first = ordered[0]?.started_at.slice(0, 16).replace("T", " ") ?? "";
  const last = ordered[ordered.length - 1]?.started_at.slice(0, 16).replace("T", " ") ?? "";
  return html`<figure class="chart">
<svg width="100%" viewBox="0 0 ${width} ${height}" role="img" aria-label="changed, drifted and failed resources per run">
<line x1="${pad.l}" y1="${y(0)}" x2="${width - pad.r}" y2="${y(0)}" class="axis"/>
<text x="${pad.l - 6}" y="${y(max) + 4}" text-anchor="end" class="lbl">${max}</text>
<text x="${pad.l - 6}" y="${y(0) + 4}" text-anchor="end" class="lbl">0</text>
<text x="${pad.l}" y="${height - 6}" class="lbl">${first}</text>
<text x="${width - pad.r}" y="${height - 6}" text-anchor="end" class="lbl">${last}</text>
${bars}
</svg>
<figcaption><span class="key c-changed"></span>changed <span class="key c-drift"></span>of which drift <span class="key c-failed"></span>failed · ${ordered.length} runs, oldest left</figcaption>
</figure>`;
}
