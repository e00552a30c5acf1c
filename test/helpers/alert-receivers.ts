/**
 * HTTP receivers on 127.0.0.1 standing in for PagerDuty, Slack and a webhook consumer (this machine
 * cannot page anyone). Each checks what it gets against the format its service documents and
 * answers as that service does; a test may script the next answers (500, 429 with Retry-After, no
 * answer at all) to make it fail and then recover. Problems are collected, never thrown, so a test
 * asserts `invalid` is empty.
 *
 * PagerDuty Events API v2 (developer.pagerduty.com, "Send an Alert Event"): POST JSON to
 * /v2/enqueue; `routing_key` (the 32-character integration key) and `event_action` (trigger,
 * acknowledge, resolve) required; `dedup_key` at most 255 characters; a trigger needs `payload`
 * with `summary` (at most 1024 characters), `source` and `severity` (critical, error, warning,
 * info), and may carry `timestamp` (ISO 8601), `component`, `group`, `class`, `custom_details` (an
 * object); `links` [{href, text}], `images` [{src}], `client`, `client_url`; at most 512 KB.
 * Accepted: 202 {status: "success", message: "Event processed", dedup_key}; invalid: 400.
 *
 * Slack incoming webhooks (docs.slack.dev, "Sending messages using incoming webhooks"): POST JSON
 * with `text` (else 400 `no_text`); malformed JSON is 400 `invalid_payload`; success is 200 with
 * the body `ok`. `&`, `<`, `>` are control characters in text, so a `<` must open a link `<URL|label>`.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isValid, schemaErrors } from "../../core/schema.js";

export interface Script {
  status?: number;
  retryAfter?: string;
  /** Never answer (the sender must time out). */
  hang?: boolean;
}

export interface Received {
  at: number;
  body: Record<string, unknown>;
  headers: IncomingMessage["headers"];
}

export interface Receiver {
  url: string;
  /** Valid requests answered with success, in arrival order. */
  received: Received[];
  /** Every request, valid or not, answered or not. */
  requests: number;
  /** When each request arrived. */
  times: number[];
  /** While true, every request gets 503 (the service is down). */
  down: boolean;
  invalid: string[];
  /** Answers for the next requests, taken in order; then success. */
  script: Script[];
  waitFor(pred: (r: Received[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

type Check = (
  req: IncomingMessage,
  text: string,
) => { problems: string[]; body: Record<string, unknown> | null };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const iso8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;

function parse(
  req: IncomingMessage,
  text: string,
): { problems: string[]; body: Record<string, unknown> | null } {
  const problems: string[] = [];
  if (req.method !== "POST") problems.push(`method ${req.method}`);
  if (!String(req.headers["content-type"] ?? "").startsWith("application/json"))
    problems.push("not application/json");
  try {
    const body = JSON.parse(text) as unknown;
    if (!isObject(body)) return { problems: [...problems, "the body is not a JSON object"], body: null };
    return { problems, body };
  } catch {
    return { problems: [...problems, "the body is not JSON"], body: null };
  }
}

export const checkPagerDuty: Check = (req, text) => {
  const { problems, body } = parse(req, text);
  if (req.url !== "/v2/enqueue") problems.push(`path ${req.url}`);
  if (text.length > 512 * 1024) problems.push("larger than 512 KB");
  if (!body) return { problems, body };
  const known = [
    "routing_key",
    "event_action",
    "dedup_key",
    "payload",
    "images",
    "links",
    "client",
    "client_url",
  ];
  for (const k of Object.keys(body)) if (!known.includes(k)) problems.push(`unknown field ${k}`);
  if (typeof body.routing_key !== "string" || body.routing_key.length !== 32)
    problems.push("routing_key is not a 32-character key");
  if (!["trigger", "acknowledge", "resolve"].includes(String(body.event_action)))
    problems.push(`event_action ${body.event_action}`);
  if (body.dedup_key !== undefined && (typeof body.dedup_key !== "string" || body.dedup_key.length > 255))
    problems.push("bad dedup_key");
  if (body.event_action !== "trigger" && typeof body.dedup_key !== "string")
    problems.push("a resolve without dedup_key");
  if (body.event_action === "trigger") {
    const p = body.payload;
    if (!isObject(p)) problems.push("a trigger without payload");
    else {
      if (typeof p.summary !== "string" || p.summary === "" || p.summary.length > 1024)
        problems.push("payload.summary");
      if (typeof p.source !== "string" || p.source === "") problems.push("payload.source");
      if (!["critical", "error", "warning", "info"].includes(String(p.severity)))
        problems.push(`payload.severity ${p.severity}`);
      if (p.timestamp !== undefined && !iso8601.test(String(p.timestamp))) problems.push("payload.timestamp");
      for (const k of ["component", "group", "class"])
        if (p[k] !== undefined && typeof p[k] !== "string") problems.push(`payload.${k}`);
      if (p.custom_details !== undefined && !isObject(p.custom_details))
        problems.push("payload.custom_details");
    }
  }
  if (
    body.links !== undefined &&
    !(Array.isArray(body.links) && body.links.every((l) => isObject(l) && typeof l.href === "string"))
  )
    problems.push("links");
  return { problems, body };
};

export const checkSlack: Check = (req, text) => {
  const { problems, body } = parse(req, text);
  if (!body) return { problems, body };
  if (typeof body.text !== "string" || body.text.trim() === "") problems.push("no_text");
  else {
    const stray = String(body.text).replace(/<https?:\/\/[^|>\s]+\|[^<>]*>/g, "");
    if (/[<>]/.test(stray)) problems.push(`an unescaped < or > in text: ${body.text}`);
  }
  return { problems, body };
};

export function checkWebhook(secret: string): Check {
  return (req, text) => {
    const { problems, body } = parse(req, text);
    const want = `sha256=${createHmac("sha256", secret).update(text).digest("hex")}`;
    const got = String(req.headers["x-tend-signature"] ?? "");
    if (got.length !== want.length || !timingSafeEqual(Buffer.from(got), Buffer.from(want)))
      problems.push("bad X-Tend-Signature");
    if (!body) return { problems, body };
    if (req.headers["x-tend-delivery"] !== body.id) problems.push("X-Tend-Delivery is not the body's id");
    if (!isValid("alert-event", body))
      problems.push(`schema: ${JSON.stringify(schemaErrors("alert-event", body))}`);
    return { problems, body };
  };
}

function answer(
  res: ServerResponse,
  kind: "pagerduty" | "slack" | "webhook",
  ok: boolean,
  body: Record<string, unknown> | null,
  problems: string[],
) {
  if (kind === "pagerduty") {
    res.writeHead(ok ? 202 : 400, { "content-type": "application/json" });
    res.end(
      JSON.stringify(
        ok
          ? { status: "success", message: "Event processed", dedup_key: body?.dedup_key }
          : { status: "invalid event", message: "Event object is invalid", errors: problems },
      ),
    );
  } else if (kind === "slack") {
    res.writeHead(ok ? 200 : 400, { "content-type": "text/plain" });
    res.end(ok ? "ok" : problems.includes("no_text") ? "no_text" : "invalid_payload");
  } else {
    res.writeHead(ok ? 200 : 400, { "content-type": "application/json" });
    res.end(ok ? "{}" : JSON.stringify({ problems }));
  }
}

export async function receiver(kind: "pagerduty" | "slack" | "webhook", check: Check): Promise<Receiver> {
  const hung = new Set<ServerResponse>();
  const r: Receiver = {
    url: "",
    received: [],
    requests: 0,
    times: [],
    down: false,
    invalid: [],
    script: [],
    async waitFor(pred, timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      while (!pred(r.received)) {
        if (Date.now() > end)
          throw new Error(
            `${kind} receiver: still waiting after ${timeoutMs} ms (${r.received.length} received, ${r.requests} requests, invalid: ${r.invalid.slice(0, 3).join("; ")})`,
          );
        await new Promise((x) => setTimeout(x, 20));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hung) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      r.requests++;
      r.times.push(Date.now());
      const step = r.down ? { status: 503 } : r.script.shift();
      if (step?.hang) {
        hung.add(res);
        return;
      }
      if (step?.status) {
        res.writeHead(step.status, step.retryAfter ? { "retry-after": step.retryAfter } : {});
        res.end(step.status === 429 ? "rate limited" : "unavailable");
        return;
      }
      const text = Buffer.concat(chunks).toString("utf8");
      const { problems, body } = check(req, text);
      if (problems.length > 0) r.invalid.push(...problems);
      else if (body) r.received.push({ at: Date.now(), body, headers: req.headers });
      answer(res, kind, problems.length === 0, body, problems);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  r.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return r;
}

export const pagerDutyReceiver = () => receiver("pagerduty", checkPagerDuty);
export const slackReceiver = () => receiver("slack", checkSlack);
export const webhookReceiver = (secret: string) => receiver("webhook", checkWebhook(secret));
