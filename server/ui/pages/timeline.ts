/**
 * The fleet's runs over time (`/ui/timeline?window=24h`): per hour (per 5 minutes over the last
 * hour), how many runs arrived, failed, repaired drift or changed something, across all nodes.
 * Inline SVG like the node page's chart; the window is a link, so no JavaScript.
 */
import type { TimelineBucket } from "../../storage/sql/timeline.js";
import type { Storage } from "../../storage/types.js";
import { type Html, html } from "../html.js";

export const windows = {
  "1h": { ms: 3_600_000, bucket: 300_000, label: "1 hour", per: "5 minutes" },
  "24h": { ms: 86_400_000, bucket: 3_600_000, label: "24 hours", per: "hour" },
  "7d": { ms: 7 * 86_400_000, bucket: 3_600_000, label: "7 days", per: "hour" },
  "30d": { ms: 30 * 86_400_000, bucket: 3_600_000, label: "30 days", per: "hour" },
} as const;
export type WindowName = keyof typeof windows;

export function windowParam(v: unknown): WindowName {
  return typeof v === "string" && Object.hasOwn(windows, v) ? (v as WindowName) : "24h";
}

const stamp = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace("T", " ");

/** Stacked bars per bucket, oldest left: failed, drift repaired, changed, the rest unchanged. */
export function timelineChart(buckets: TimelineBucket[], per: string): Html {
  const width = 720;
  const height = 180;
  const pad = { l: 40, r: 8, t: 8, b: 22 };
  const plotW = width - pad.l - pad.r;
  const plotH = height - pad.t - pad.b;
  const max = Math.max(1, ...buckets.map((b) => b.runs));
  const bw = plotW / Math.max(1, buckets.length);
  const y = (v: number) => pad.t + plotH - (v / max) * plotH;
  const bars = buckets.map((b, i) => {
    const x = (pad.l + i * bw + (bw > 3 ? 0.5 : 0)).toFixed(2);
    const w = Math.max(0.6, bw > 3 ? bw - 1 : bw).toFixed(2);
    const parts: Html[] = [];
    let base = 0;
    for (const [n, cls] of [
      [b.failed, "c-failed"],
      [b.drifted, "c-drift"],
      [b.changed, "c-changed"],
      [b.runs - b.failed - b.drifted - b.changed, "c-ok"],
    ] as const) {
      if (n <= 0) continue;
      parts.push(
        html`<rect x="${x}" y="${y(base + n).toFixed(1)}" width="${w}" height="${(y(base) - y(base + n)).toFixed(1)}" class="${cls}"/>`,
      );
      base += n;
    }
    return html`<g><title>${stamp(b.start)}: ${b.runs} runs, ${b.failed} failed, ${b.drifted} drift repaired, ${b.changed} changed</title>${parts}</g>`;
  });
  const first = buckets[0]?.start ?? 0;
  const last = buckets[buckets.length - 1]?.start ?? 0;
  return html`<figure class="chart timeline">
<svg width="100%" viewBox="0 0 ${width} ${height}" role="img" aria-label="runs per ${per} across the fleet">
<line x1="${pad.l}" y1="${y(0)}" x2="${width - pad.r}" y2="${y(0)}" class="axis"/>
<text x="${pad.l - 6}" y="${y(max) + 4}" text-anchor="end" class="lbl">${max}</text>
<text x="${pad.l - 6}" y="${y(0) + 4}" text-anchor="end" class="lbl">0</text>
<text x="${pad.l}" y="${height - 6}" class="lbl">${stamp(first)}</text>
<text x="${width - pad.r}" y="${height - 6}" text-anchor="end" class="lbl">${stamp(last)} UTC</text>
${bars}
</svg>
<figcaption><span class="key c-failed"></span>failed <span class="key c-drift"></span>repaired drift <span class="key c-changed"></span>changed <span class="key c-ok"></span>unchanged · runs per ${per}, by arrival, oldest left</figcaption>
</figure>`;
}

export async function timelinePage(storage: Storage, name: WindowName, now: number): Promise<Html> {
  const w = windows[name];
  const buckets = await storage.ui.timeline(w.ms, w.bucket, now);
  const sum = (k: keyof TimelineBucket) => buckets.reduce((a, b) => a + b[k], 0);
  const links = (Object.keys(windows) as WindowName[]).map((k) =>
    k === name
      ? html`<b aria-current="page">${windows[k].label}</b>`
      : html`<a href="/ui/timeline?window=${k}">${windows[k].label}</a>`,
  );
  return html`<h1>Fleet timeline</h1>
<nav class="windows" aria-label="window">${links.map((l, i) => html`${i ? " · " : ""}${l}`)}</nav>
<section class="cards" aria-label="totals">
<span class="card"><b>${sum("runs")}</b><span>runs in ${w.label}</span></span>
<span class="card${sum("failed") ? " bad" : ""}"><b>${sum("failed")}</b><span>failed</span></span>
<span class="card${sum("drifted") ? " warn" : ""}"><b>${sum("drifted")}</b><span>repaired drift</span></span>
<span class="card"><b>${sum("changed")}</b><span>changed</span></span>
</section>
${timelineChart(buckets, w.per)}
<p class="muted">Every node's runs, counted in the ${w.per} their report arrived. <a href="/ui/">Back to the fleet</a></p>`;
}
