/** The fleet page's environment filter and each node's environment tag (docs/environments.md). */
import type { NodeEnvironment } from "../../storage/types.js";
import { type Html, html } from "../html.js";
import { nodeHref } from "../layout.js";

/** The default environment and every one served now (the default first). */
export interface Environments {
  default: string;
  served: string[];
}

/** `?env=`: a branch name, or undefined. */
export function envParam(v: string | undefined): string | undefined {
  return v && v.length <= 200 && /^(?!.*\.\.)[A-Za-z0-9_-][A-Za-z0-9._/-]*$/.test(v) ? v : undefined;
}

export function environmentSelect(envs: Environments, current: string | undefined): Html {
  const names = current && !envs.served.includes(current) ? [...envs.served, current] : envs.served;
  return html`<label>environment <select name="env"><option value="">any</option>${names.map(
    (e) => html`<option${current === e ? html` selected` : ""}>${e}</option>`,
  )}</select></label>`;
}

/**
 * A node outside the default environment says which one it is in; a node not where it asked, or
 * where nodes.yaml puts it (a refusal, its branch deleted), carries a warning with the reason.
 */
export function environmentTag(e: NodeEnvironment | undefined, fallback: string): Html | "" {
  if (!e) return "";
  const env = e.environment === fallback ? "" : html` <span class="tag env">${e.environment}</span>`;
  const warn = e.note ? html` <span class="tag warn" title="${e.note}">⚠ environment</span>` : "";
  return html`${env}${warn}`;
}

/** The node page's environment: where it is served from, what it asked, and any warning. */
export function environmentLine(e: NodeEnvironment | undefined): Html | "" {
  if (!e) return "";
  const asked =
    e.requested && e.requested !== e.environment ? html` (asked for <code>${e.requested}</code>)` : "";
  const note = e.note ? html`<p class="warn" role="alert">⚠ ${e.note}</p>` : "";
  return html`<p class="muted">environment <code>${e.environment}</code>${asked}</p>${note}`;
}

/** The fleet's banner: nodes not where they asked or where nodes.yaml puts them, with why. */
export function environmentWarnings(placed: Map<string, NodeEnvironment>): Html | "" {
  const noted = [...placed].filter(([, e]) => e.note).sort(([a], [b]) => (a < b ? -1 : 1));
  if (noted.length === 0) return "";
  const shown = noted.slice(0, 10);
  return html`<section class="env-warnings" aria-label="environment warnings"><p class="warn">⚠ ${noted.length} node${noted.length === 1 ? " is" : "s are"} not in the environment ${noted.length === 1 ? "it asked for or nodes.yaml puts it in" : "they asked for or nodes.yaml puts them in"}:</p><ul>${shown.map(
    ([node, e]) =>
      html`<li><a href="${nodeHref(node)}">${node}</a> gets <code>${e.environment}</code>: ${e.note}</li>`,
  )}${noted.length > shown.length ? html`<li>… and ${noted.length - shown.length} more (GET /api/v1/environments)</li>` : ""}</ul></section>`;
}
