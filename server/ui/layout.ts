/** The frame every dashboard page shares, and the small pieces pages repeat (badges, diffs, pagers). */
import type { Json } from "../../core/types.js";
import type { DuplicateIdentity } from "../duplicates.js";
import { actorName } from "../roles.js";
import { ago, type Html, html, query } from "./html.js";
import type { UiSession } from "./session.js";

export interface PageOptions {
  title: string;
  session: UiSession | null;
  /** Which nav entry is current. */
  nav?: "fleet" | "drift" | "commits" | "rollouts" | "alerts" | "audit";
}

export function layout(o: PageOptions, body: Html): Html {
  const link = (href: string, name: string, key: PageOptions["nav"]) =>
    html`<a href="${href}"${o.nav === key ? html` aria-current="page"` : ""}>${name}</a>`;
  const who = o.session?.principal;
  const nav = o.session
    ? html`<nav>${link("/ui/", "Fleet", "fleet")}${link("/ui/drift", "Drift", "drift")}${link("/ui/commits", "Commits", "commits")}${link("/ui/rollouts", "Rollouts", "rollouts")}${link("/ui/alerts", "Alerts", "alerts")}${who?.role === "admin" ? link("/ui/audit", "Audit", "audit") : ""}</nav>
<span class="who" title="signed in as">${who ? actorName(who) : ""} <span class="role">${who?.role ?? ""}</span></span>
<form method="post" action="/ui/logout" class="logout"><input type="hidden" name="_csrf" value="${o.session.csrf}"><button type="submit">Log out</button></form>`
    : "";
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · tend</title>
<link rel="stylesheet" href="/ui/style.css">
<link rel="icon" href="data:,">
</head>
<body>
<header class="top"><a class="brand" href="/ui/">tend</a>${nav}</header>
<main>
${body}
</main>
</body>
</html>
`;
}

export function badge(status: string | null): Html {
  const s = status ?? "none";
  return html`<span class="badge s-${s.replace(/[^a-z-]/g, "")}">${s}</span>`;
}

/** Drift (the box left a state already in force) versus deploy (the desired state is new). */
export function driftTag(r: { drifted: boolean; status: string }): Html | "" {
  if (r.status === "unchanged" || r.status === "skipped") return "";
  return r.drifted
    ? html`<span class="tag drift">drift</span>`
    : html`<span class="tag deploy">deploy</span>`;
}

/** A unified diff, one coloured line each; the text itself verbatim. */
export function diffBlock(diff: string | null): Html | "" {
  if (!diff) return "";
  const lines = diff.replace(/\n$/, "").split("\n");
  const cls = (l: string) =>
    l.startsWith("+++") || l.startsWith("---") || l.startsWith("Index:") || l.startsWith("====")
      ? "h"
      : l.startsWith("@@")
        ? "at"
        : l.startsWith("+")
          ? "add"
          : l.startsWith("-")
            ? "del"
            : "ctx";
  return html`<pre class="diff">${lines.map((l) => html`<span class="${cls(l)}">${l}\n</span>`)}</pre>`;
}

const jsonText = (v: Json): string => (typeof v === "string" ? v : JSON.stringify(v));

export function changesTable(changes: { property: string; from: Json; to: Json }[]): Html | "" {
  if (changes.length === 0) return "";
  return html`<table class="changes"><thead><tr><th>property</th><th>from</th><th>to</th></tr></thead><tbody>
${changes.map((c) => html`<tr><td>${c.property}</td><td><code>${jsonText(c.from)}</code></td><td><code>${jsonText(c.to)}</code></td></tr>`)}
</tbody></table>`;
}

/** "Page 2 of 7" with previous/next links keeping the other parameters. */
export function pager(
  base: string,
  params: Record<string, string | number | boolean | undefined>,
  page: number,
  pages: number,
): Html | "" {
  if (pages <= 1) return "";
  const to = (p: number) => `${base}${query({ ...params, page: p > 1 ? p : undefined })}`;
  return html`<nav class="pager" aria-label="pages">
${page > 1 ? html`<a href="${to(page - 1)}" rel="prev">← previous</a>` : html`<span></span>`}
<span>page ${page} of ${pages}</span>
${page < pages ? html`<a href="${to(page + 1)}" rel="next">next →</a>` : html`<span></span>`}
</nav>`;
}

/** A page number from the query string, at least 1. */
export function pageParam(v: unknown): number {
  const n = Number(typeof v === "string" ? v : 1);
  return Number.isInteger(n) && n >= 1 && n < 1_000_000 ? n : 1;
}

export const nodeHref = (name: string) => `/ui/nodes/${encodeURIComponent(name)}`;
export const reportHref = (id: string) => `/ui/reports/${encodeURIComponent(id)}`;

/** TRUST I1: nodes whose credential two machines use (overlapping runs), until re-enrolled. */
export function duplicateAlerts(alerts: DuplicateIdentity[], now: number): Html | "" {
  if (alerts.length === 0) return "";
  return html`<section class="alerts" aria-label="alerts">${alerts.map(
    (a) =>
      html`<p class="error"><b>duplicate identity:</b> <a href="${nodeHref(a.node)}">${a.node}</a> ran two overlapping runs (<a href="${reportHref(a.reports[0])}">${a.reports[0]}</a>, <a href="${reportHref(a.reports[1])}">${a.reports[1]}</a>) ${ago(a.at, now)}: two machines use its credential (a cloned VM or a copied state_dir). Revoke it (<code>tend server node revoke ${a.node}</code>) and enrol each machine under its own name.</p>`,
  )}</section>`;
}
