/**
 * `alerts:` in server.yaml, resolved: durations in ms, paths absolute, each sink's type and rate
 * limit. The schema has checked the shapes; what it cannot say (one type per sink, unique names) is
 * checked here. Secrets stay in their files until sinks.ts reads them at start-up.
 */
import { TendError } from "../../core/errors.js";

export type SinkType = "pagerduty" | "slack" | "webhook";

export interface SinkConfig {
  name: string;
  type: SinkType;
  /** Condition kinds, or ["all"]. */
  on: string[];
  /** Requests a minute; more triggers of a kind within a minute become one storm alert. Null: no limit. */
  maxPerMinute: number | null;
  /** PagerDuty: the routing key's file; Slack: the webhook URL's file; webhook: the HMAC secret's file. */
  secretFile: string;
  /** PagerDuty's events URL or the webhook's; null for Slack (its URL is the secret). */
  url: string | null;
  /** PagerDuty `payload.group`. */
  group: string;
}

export interface AlertsConfig {
  /** `stale_after`, or null: 3 × each node's interval, at least 15 minutes. */
  staleAfterMs: number | null;
  flapWindowMs: number;
  sinks: SinkConfig[];
}

export const pagerDutyEventsUrl = "https://events.pagerduty.com/v2/enqueue";

/** Defaults kept under each service's documented limits: PagerDuty ~120/min per key, Slack 1/s. */
const defaultPerMinute: Record<SinkType, number | null> = { pagerduty: 100, slack: 50, webhook: null };

interface RawSink {
  name: string;
  on: string[];
  max_per_minute?: number;
  pagerduty?: { routing_key_file: string; url?: string; group?: string };
  slack?: { webhook_url_file: string };
  webhook?: { url: string; secret_file: string };
}

export function resolveAlerts(
  raw: Record<string, unknown> | undefined,
  abs: (path: string) => string,
  duration: (text: string) => number,
): AlertsConfig {
  const a = (raw ?? {}) as { stale_after?: string; flap_window?: string; sinks?: RawSink[] };
  const seen = new Set<string>();
  const sinks = (a.sinks ?? []).map((s, i): SinkConfig => {
    const types = (["pagerduty", "slack", "webhook"] as const).filter((t) => s[t] !== undefined);
    if (types.length !== 1) {
      throw new TendError(
        "TEND_E_CONFIG",
        `alerts.sinks[${i}] (${s.name}) names ${types.join(" and ")}: give each sink exactly one of pagerduty, slack or webhook.`,
      );
    }
    if (seen.has(s.name)) {
      throw new TendError("TEND_E_CONFIG", `alerts.sinks[${i}]: the sink name "${s.name}" is used twice.`);
    }
    seen.add(s.name);
    const type = types[0] as SinkType;
    const base = {
      name: s.name,
      type,
      on: [...new Set(s.on)],
      maxPerMinute: s.max_per_minute ?? defaultPerMinute[type],
      group: "tend",
    };
    if (s.pagerduty) {
      return {
        ...base,
        secretFile: abs(s.pagerduty.routing_key_file),
        url: s.pagerduty.url ?? pagerDutyEventsUrl,
        group: s.pagerduty.group ?? "tend",
      };
    }
    if (s.slack) return { ...base, secretFile: abs(s.slack.webhook_url_file), url: null };
    const hook = s.webhook as NonNullable<RawSink["webhook"]>;
    return { ...base, secretFile: abs(hook.secret_file), url: hook.url };
  });
  return {
    staleAfterMs: a.stale_after !== undefined ? duration(a.stale_after) : null,
    flapWindowMs: duration(a.flap_window ?? "10m"),
    sinks,
  };
}
