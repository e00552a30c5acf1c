/**
 * Sinks at run time: their secrets read from files (private to the server's user: a startup check
 * refuses group-writable or world-readable ones), and one `post` that sends an event in the sink's
 * format and says what came of it. A secret is never logged, shown or put in an error: errors name
 * the sink and the failure, never the URL or the key.
 */
import { readFileSync, type Stats, statSync } from "node:fs";
import { request } from "undici";
import { TendError } from "../../core/errors.js";
import type { AlertsConfig, SinkConfig, SinkType } from "./config.js";
import { pagerDutyBody, slackBody, webhookBody } from "./formats.js";
import type { AlertEvent } from "./kinds.js";

export interface SendResult {
  /** The HTTP status, or null when none came (refused, reset, timed out). */
  status: number | null;
  ok: boolean;
  /** Worth trying again: 429, 5xx, no answer. */
  retry: boolean;
  /** From a Retry-After header, in ms. */
  retryAfterMs: number | null;
  error: string | null;
}

export interface Sink {
  readonly name: string;
  readonly type: SinkType;
  readonly on: string[];
  readonly maxPerMinute: number | null;
  /** Where it sends, without any secret (for pages and logs). */
  readonly where: string;
  post(event: AlertEvent, timeoutMs: number): Promise<SendResult>;
}

/**
 * TRUST L2 for sink secrets: one sentence per secret file that group or others could write, others
 * could read, or that another user owns (root may own it: a 0640 root:tend file is the usual way).
 */
export function secretFileProblems(alerts: AlertsConfig): string[] {
  const uid = process.getuid?.();
  const out: string[] = [];
  for (const s of alerts.sinks) {
    let st: Stats;
    try {
      st = statSync(s.secretFile);
    } catch {
      continue; // loadSinks says it is missing
    }
    const mode = st.mode & 0o777;
    const what = `the secret file ${s.secretFile} of alert sink "${s.name}"`;
    if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
      out.push(`${what} is owned by uid ${st.uid}, not by the server's user (uid ${uid}) or root: chown it.`);
    } else if ((mode & 0o027) !== 0) {
      const octal = mode.toString(8).padStart(4, "0");
      out.push(
        `${what} has mode ${octal}, open to others: run \`chmod 600 ${s.secretFile}\` (or 640 for a group).`,
      );
    }
  }
  return out;
}

function readSecret(s: SinkConfig): string {
  let text: string;
  try {
    text = readFileSync(s.secretFile, "utf8").trim();
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new TendError("TEND_E_CONFIG", `alert sink "${s.name}": cannot read ${s.secretFile} (${why}).`);
  }
  if (text === "" || /\s/.test(text)) {
    throw new TendError(
      "TEND_E_CONFIG",
      `alert sink "${s.name}": ${s.secretFile} must hold the secret alone, on one line, without spaces.`,
    );
  }
  if (s.type === "slack" && !/^https?:\/\/[^\s]+$/.test(text)) {
    throw new TendError(
      "TEND_E_CONFIG",
      `alert sink "${s.name}": ${s.secretFile} must hold the webhook's URL (https://hooks.slack.com/services/...).`,
    );
  }
  if (s.type === "webhook" && text.length < 16) {
    throw new TendError(
      "TEND_E_CONFIG",
      `alert sink "${s.name}": the secret in ${s.secretFile} is shorter than 16 characters.`,
    );
  }
  return text;
}

/** "HTTP 429", "timed out after 10 s", "connection refused": never the URL. */
function failure(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string } };
  if (e.name === "TimeoutError" || e.name === "AbortError") return `no answer within ${timeoutMs / 1000} s`;
  const code = e.code ?? e.cause?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET") return "connection reset";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found";
  return code ? `network error ${code}` : "network error";
}

/** Retry-After: seconds, or an HTTP date; in ms from now, at most an hour. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  const secs = /^\s*\d+\s*$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  return Number.isFinite(secs) ? Math.min(Math.max(0, secs), 3_600_000) : null;
}

async function send(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<SendResult> {
  try {
    const res = await request(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "tend-alerts/1", ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = (await res.body.text()).slice(0, 300).replace(/\s+/g, " ").trim();
    const status = res.statusCode;
    if (status >= 200 && status < 300)
      return { status, ok: true, retry: false, retryAfterMs: null, error: null };
    const retry = status === 429 || status >= 500;
    const ra = retry ? retryAfterMs(res.headers["retry-after"]) : null;
    return { status, ok: false, retry, retryAfterMs: ra, error: `HTTP ${status}${text ? `: ${text}` : ""}` };
  } catch (err) {
    return { status: null, ok: false, retry: true, retryAfterMs: null, error: failure(err, timeoutMs) };
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "?";
  }
}

export function makeSink(s: SinkConfig, secret: string): Sink {
  const base = { name: s.name, type: s.type, on: s.on, maxPerMinute: s.maxPerMinute };
  if (s.type === "pagerduty") {
    const url = s.url as string;
    return {
      ...base,
      where: `PagerDuty Events API v2 at ${hostOf(url)}`,
      post: (e, t) => send(url, {}, JSON.stringify(pagerDutyBody(e, secret, s.group)), t),
    };
  }
  if (s.type === "slack") {
    return {
      ...base,
      where: `Slack incoming webhook at ${hostOf(secret)}`,
      post: (e, t) => send(secret, {}, JSON.stringify(slackBody(e)), t),
    };
  }
  const url = s.url as string;
  return {
    ...base,
    where: `webhook at ${hostOf(url)}`,
    post: (e, t) => {
      const { body, signature } = webhookBody(e, secret);
      const headers = {
        "x-tend-signature": signature,
        "x-tend-delivery": e.id,
        "x-tend-event": `${e.kind}.${e.action}`,
      };
      return send(url, headers, body, t);
    },
  };
}

/** Reads every sink's secret; a missing, empty or malformed one stops the server (TEND_E_CONFIG). */
export function loadSinks(alerts: AlertsConfig): Sink[] {
  return alerts.sinks.map((s) => makeSink(s, readSecret(s)));
}
