/**
 * A resource's changes as the dashboard shows them: a content change (a file, a unit, a sources
 * file, a cron entry: from `sha256:…` to `sha256:…`) reads as its diff in the table's row, or, for a
 * sensitive file, as the note that says why its content is hidden, instead of two bare hashes. The
 * hashes stay on the row's title (hover), for whoever needs to match them with a backup.
 */
import type { Json, ResourceReport } from "../../core/types.js";
import { type Html, html } from "./html.js";
import { changesTable, diffBlock } from "./layout.js";

const HASH = /^sha256:[0-9a-f]{64}$/;
const isHash = (v: Json) => typeof v === "string" && HASH.test(v);

/** A content change: to a hash, from a hash or from nothing. */
function isContent(c: { from: Json; to: Json }): boolean {
  return isHash(c.to) && (isHash(c.from) || c.from === null || c.from === "absent");
}

/** A unified diff (as kinds write them), not a note such as "content hidden (sensitive: true)". */
function isUnifiedDiff(text: string): boolean {
  return /^(@@ |--- |\+\+\+ )/m.test(text);
}

/** The changes table and the diff, with content changes shown by their diff or note. */
export function changesWithContent(r: Pick<ResourceReport, "changes" | "diff">): Html | "" {
  const content = r.changes.filter(isContent);
  if (content.length === 0) return html`${changesTable(r.changes)}${diffBlock(r.diff)}`;
  const diff = r.diff ?? "";
  const unified = isUnifiedDiff(diff);
  let shown = false;
  const body = (): Html => {
    if (shown) return html`<span class="muted">in the diff above</span>`;
    shown = true;
    if (unified) return html`${diffBlock(diff)}`;
    if (diff) return html`<p class="note">${diff}</p>`;
    return html`<span class="muted">changed (no diff recorded)</span>`;
  };
  const rows = r.changes.map((c) =>
    isContent(c)
      ? html`<tr class="content" title="${`${c.from ?? "absent"} → ${c.to}`}"><td>${c.property}</td><td colspan="2">${body()}</td></tr>`
      : html`<tr><td>${c.property}</td><td><code>${text(c.from)}</code></td><td><code>${text(c.to)}</code></td></tr>`,
  );
  return html`<table class="changes"><thead><tr><th>property</th><th>from</th><th>to</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

const text = (v: Json): string => (typeof v === "string" ? v : JSON.stringify(v));
