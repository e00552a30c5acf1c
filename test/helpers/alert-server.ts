/**
 * A test server with three alert sinks wired to loopback receivers (alert-receivers.ts): `oncall`
 * (PagerDuty: failing, stale, refused-commit), `chat` (Slack: everything but drifted... and drifted)
 * and `audit` (the signed webhook: all). Secrets are written to 0600 files, as in production.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Report } from "../../core/types.js";
import { pagerDutyReceiver, type Receiver, slackReceiver, webhookReceiver } from "./alert-receivers.js";
import { bearer, startTestServer, type TestServer, type TestServerOptions } from "./server-app.js";
import { makeReport } from "./server-report.js";
import { uiLogin } from "./ui-session.js";

export const routingKey = "R0UT1NGKEY0123456789abcdef012345";
export const hookSecret = "a-webhook-secret-of-some-length";

export interface AlertRig {
  s: TestServer;
  pd: Receiver;
  slack: Receiver;
  hook: Receiver;
  /** Files holding the sinks' secrets, and the `alerts:` configuration naming them. */
  secretsDir: string;
  alerts: Record<string, unknown>;
  /** Enrols the nodes one after the other (their credentials kept for `post`). */
  enroll(nodes: string[]): Promise<void>;
  /** Posts `report` as its node (enrolled on first use); the HTTP status. */
  post(report: Report): Promise<number>;
  close(): Promise<void>;
}

/** Writes the secrets and returns the `alerts:` block for receivers at these URLs. */
export function alertsConfig(
  dir: string,
  urls: { pd: string; slack: string; hook: string },
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, `${text}\n`, { mode: 0o600 });
    chmodSync(path, 0o600);
    return path;
  };
  return {
    flap_window: "0",
    ...extra,
    sinks: [
      {
        name: "oncall",
        pagerduty: { routing_key_file: file("pd.key", routingKey), url: `${urls.pd}/v2/enqueue` },
        on: ["failing", "stale", "refused-commit"],
      },
      {
        name: "chat",
        slack: { webhook_url_file: file("slack.url", `${urls.slack}/services/T000/B000/XXXX`) },
        on: ["failing", "stale", "drifted", "refused-commit"],
      },
      {
        name: "audit",
        webhook: { url: `${urls.hook}/tend`, secret_file: file("hook.secret", hookSecret) },
        on: ["all"],
      },
    ],
  };
}

export async function alertRig(
  o: TestServerOptions & { alerts?: Record<string, unknown> } = {},
): Promise<AlertRig> {
  const [pd, slack, hook] = await Promise.all([
    pagerDutyReceiver(),
    slackReceiver(),
    webhookReceiver(hookSecret),
  ]);
  const secretsDir = mkdtempSync(join(tmpdir(), "tend-alert-secrets-"));
  const alerts = alertsConfig(secretsDir, { pd: pd.url, slack: slack.url, hook: hook.url }, o.alerts);
  const s = await startTestServer({
    ...o,
    config: { ...o.config, alerts },
    alertWorker: { pollMs: 50, timeoutMs: 1000, backoff: { baseMs: 50, capMs: 400 }, ...o.alertWorker },
  });
  const creds = new Map<string, string>();
  return {
    s,
    pd,
    slack,
    hook,
    secretsDir,
    alerts,
    async enroll(nodes) {
      for (const n of nodes) if (!creds.has(n)) creds.set(n, await s.enroll(n));
    },
    async post(report) {
      let cred = creds.get(report.node);
      if (!cred) {
        cred = await s.enroll(report.node);
        creds.set(report.node, cred);
      }
      const res = await s.app.inject({
        method: "POST",
        url: "/api/v1/reports",
        headers: bearer(cred),
        payload: report,
      });
      return res.statusCode;
    },
    async close() {
      await s.close();
      await Promise.all([pd.close(), slack.close(), hook.close()]);
      rmSync(secretsDir, { recursive: true, force: true });
    },
  };
}

/** A report of `node` whose run failed on `service:nginx` (and optionally a failed check). */
export function failingReport(
  node: string,
  o: { at?: string; interval?: number; check?: boolean } = {},
): Report {
  const r = makeReport(node, null);
  const nginx = r.resources.find((x) => x.id === "package:nginx");
  if (nginx) {
    nginx.status = "failed";
    nginx.error = "E: Unable to locate package nginx\nmore detail";
  }
  r.status = "failed";
  r.summary = { ...r.summary, failed: 1, unchanged: r.summary.unchanged - 1 };
  if (o.at) r.started_at = o.at;
  if (o.interval) r.interval_s = o.interval;
  if (o.check) {
    r.checks = [
      {
        id: "http:http://127.0.0.1:8080/healthz",
        type: "http",
        status: "failed",
        attempts: 5,
        duration_ms: 812,
        reason: "status 503, expected 200",
        excerpt: "upstream down",
      },
    ];
    r.summary = { ...r.summary, checks_total: 1, checks_failed: 1, checks_skipped: 0 };
  }
  return r;
}

/** A report of `node` in which nothing changed. */
export function goodReport(node: string, o: { at?: string; interval?: number } = {}): Report {
  const r = makeReport(node, null);
  if (o.at) r.started_at = o.at;
  if (o.interval) r.interval_s = o.interval;
  return r;
}

/** Keeps delivering until `done` holds (the worker's pass, driven by the test). */
export async function deliverUntil(s: TestServer, done: () => boolean, passes = 200): Promise<void> {
  for (let i = 0; i < passes && !done(); i++) {
    if ((await s.deps.alerts.deliver()) === 0) await new Promise((r) => setTimeout(r, 20));
  }
}

/** A dashboard session cookie, signed in with the admin token through the login form. */
export async function sessionCookie(s: TestServer): Promise<string> {
  const login = await uiLogin(s, { token: s.adminToken });
  if (!login.cookie) throw new Error(`could not sign in: ${login.status} ${login.body}`);
  return login.cookie;
}
