/**
 * An alert event in each sink's own format, as pure functions: PagerDuty Events API v2 (trigger
 * and resolve on one dedup_key), a Slack incoming-webhook message, and the generic webhook's
 * signed JSON (schemas/alert-event.schema.json). Nothing here sends; sinks.ts does.
 */
import { createHmac } from "node:crypto";
import type { AlertEvent } from "./kinds.js";

type Listed = { id?: unknown; error?: unknown; reason?: unknown };
const list = (v: unknown): Listed[] => (Array.isArray(v) ? (v as Listed[]) : []);

/** The part of the node the event is about (PagerDuty `payload.component`). */
function component(e: AlertEvent): string {
  if (e.storm) return e.kind;
  const first =
    list(e.details.failed_resources)[0] ??
    list(e.details.failed_checks)[0] ??
    list(e.details.drifted_resources)[0];
  if (first?.id) return String(first.id).slice(0, 255);
  if (e.kind === "refused-commit") return "recipes";
  return "tend-agent";
}

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * Events API v2 (https://events.pagerduty.com/v2/enqueue): a trigger carries `payload` {summary
 * ≤ 1024, source, severity, timestamp, component, group, class, custom_details}; a resolve needs
 * only routing_key, dedup_key and event_action. A test event is an `info` trigger.
 */
export function pagerDutyBody(e: AlertEvent, routingKey: string, group: string): Record<string, unknown> {
  if (e.action === "resolve")
    return { routing_key: routingKey, event_action: "resolve", dedup_key: e.dedup_key };
  return {
    routing_key: routingKey,
    event_action: "trigger",
    dedup_key: e.dedup_key,
    payload: {
      summary: cut(e.summary, 1024),
      source: e.node ?? "tend",
      severity: e.severity,
      timestamp: e.at,
      component: component(e),
      group,
      class: e.kind,
      custom_details: {
        ...e.details,
        ...(e.storm ? { storm: e.storm } : {}),
        report_url: e.report_url,
        link: e.link,
        opened_at: e.opened_at,
      },
    },
    client: "tend",
    client_url: e.link,
    links: [{ href: e.link, text: e.report_url ? "The report in tend" : "tend" }],
  };
}

/** Slack's mrkdwn: &, < and > are control characters (everything from a node is text). */
export function slackEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const icons: Record<string, string> = {
  critical: ":red_circle:",
  error: ":red_circle:",
  warning: ":warning:",
  info: ":information_source:",
};

/** One readable message: what happened (node, what failed, the first error line), then a link. */
export function slackBody(e: AlertEvent): { text: string } {
  const icon = e.action === "resolve" ? ":large_green_circle:" : (icons[e.severity] ?? ":bell:");
  const lines = [`${icon} ${slackEscape(e.summary)}`];
  if (e.action === "trigger") {
    const items = [...list(e.details.failed_resources), ...list(e.details.failed_checks)].slice(0, 5);
    for (const i of items)
      lines.push(`• \`${slackEscape(String(i.id))}\`: ${slackEscape(String(i.error ?? i.reason ?? ""))}`);
    if (e.storm)
      lines.push(`• ${slackEscape(e.storm.nodes.slice(0, 20).join(", "))}${e.storm.count > 20 ? ", …" : ""}`);
  }
  if (e.action === "resolve") {
    const minutes = Math.max(0, Math.round((Date.parse(e.at) - Date.parse(e.opened_at)) / 60_000));
    lines[0] += ` (open ${minutes} min)`;
  }
  const commit =
    typeof e.details.commit === "string" ? ` · commit \`${slackEscape(e.details.commit.slice(0, 8))}\`` : "";
  const label =
    e.link === e.report_url
      ? "the report"
      : e.kind === "refused-commit"
        ? "commits"
        : e.link.includes("/ui/nodes/")
          ? "the node"
          : "tend";
  lines.push(`<${e.link}|Open ${label}>${commit}`);
  return { text: lines.join("\n") };
}

/** The generic webhook: the event as JSON, and its HMAC-SHA256 for `X-Tend-Signature`. */
export function webhookBody(e: AlertEvent, secret: string): { body: string; signature: string } {
  const body = JSON.stringify(e);
  return { body, signature: `sha256=${createHmac("sha256", secret).update(body).digest("hex")}` };
}
