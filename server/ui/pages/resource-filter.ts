/**
 * The node page's filter of its latest report's resources (`?show=changed|failed|drifted`): links
 * with counts, so no JavaScript; without a filter, unchanged resources are collapsed.
 */
import type { ResourceReport } from "../../../core/types.js";
import { type Html, html } from "../html.js";
import { resourceList } from "./resources.js";

export const resourceFilters = ["changed", "failed", "drifted"] as const;
export type ResourceFilter = (typeof resourceFilters)[number];

export function resourceFilterParam(v: unknown): ResourceFilter | undefined {
  return resourceFilters.find((f) => f === v);
}

const matches: Record<ResourceFilter, (r: ResourceReport) => boolean> = {
  changed: (r) => r.status === "changed" || r.status === "would-change",
  failed: (r) => r.status === "failed",
  drifted: (r) => r.drifted,
};

/** The filter links, then the resources it keeps (all, unchanged collapsed, without one). */
export function filteredResources(resources: ResourceReport[], href: string, show?: ResourceFilter): Html {
  const link = (f: ResourceFilter | undefined, label: string, n: number) =>
    f === show
      ? html`<b aria-current="true">${label} (${n})</b>`
      : html`<a href="${href}${f ? `?show=${f}` : ""}#resources">${label} (${n})</a>`;
  const links = [
    link(undefined, "all", resources.length),
    ...resourceFilters.map((f) => link(f, f, resources.filter(matches[f]).length)),
  ];
  const kept = show ? resources.filter(matches[show]) : resources;
  const hidden = resources.length - kept.length;
  return html`<nav class="resource-filter" aria-label="show resources">show: ${links.map((l, i) => html`${i ? " · " : ""}${l}`)}</nav>
${show && kept.length === 0 ? html`<p class="empty">No ${show} resource in this report.</p>` : ""}
${show ? resourceList(kept) : resourceList(kept, { collapseUnchanged: true })}
${show && hidden ? html`<p class="muted">${hidden} other resource${hidden === 1 ? "" : "s"} hidden: <a href="${href}#resources">show all</a></p>` : ""}`;
}
