/**
 * Alerts end to end on a real box: a Debian trixie box bootstrapped with install.sh against a real
 * server on the host's loopback, a recipe whose systemd service must answer an HTTP check. The
 * service is broken by hand (the data it serves); the next run's check fails, and PagerDuty and
 * Slack (loopback receivers checking their documented formats) are told; a commit that manages
 * that data is converged (by the daemon, which the server tells of the commit, or by hand), the
 * check passes, and the same dedup_key is resolved.
 */
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { bootBox, noBoxes } from "../boxes/lib/index.js";
import { buildBundle, fleetServer, freePort } from "../helpers/agent-e2e.js";
import { pagerDutyReceiver, slackReceiver, webhookReceiver } from "../helpers/alert-receivers.js";
import { alertsConfig, hookSecret } from "../helpers/alert-server.js";
import { TestRepo } from "../helpers/server-git.js";
import { stop } from "../helpers/server-process.js";

function recipes(port: number, manageStatus: boolean): Record<string, string> {
  const app = `const http = require("http"), fs = require("fs");
http.createServer((req, res) => {
  let status = "ok";
  try { status = fs.readFileSync("/var/lib/tend-web/status", "utf8").trim(); } catch {}
  res.writeHead(status === "ok" ? 200 : 503);
  res.end(status + "\\n");
}).listen(${port}, "127.0.0.1");
`;
  const resources = [
    "resources:",
    "  - file: /usr/local/lib/tend-web.js",
    `    content: ${JSON.stringify(app)}`,
    "    notify: [service:tend-web]",
    "  - file: /etc/systemd/system/tend-web.service",
    `    content: ${JSON.stringify("[Service]\nExecStart=/usr/bin/node /usr/local/lib/tend-web.js\n[Install]\nWantedBy=multi-user.target\n")}`,
    "    notify: [service:tend-web]",
    "  - service: tend-web",
    "    ensure: running",
    "    enabled: true",
    ...(manageStatus
      ? [
          "  - file: /var/lib/tend-web",
          "    ensure: directory",
          "  - file: /var/lib/tend-web/status",
          '    content: "ok\\n"',
        ]
      : []),
    "checks:",
    `  - http: http://127.0.0.1:${port}/healthz`,
    "    status: 200",
    "    contains: ok",
    "    retries: 5",
    "    interval: 1s",
    "",
  ];
  return { "nodes.yaml": '- name: "*"\n  recipes: [web]\n', "web/recipe.yaml": resources.join("\n") };
}

t.test(
  "a check failing on a real service pages; the converge that repairs it resolves",
  { skip: noBoxes },
  async (t) => {
    const [pd, slack, hook] = await Promise.all([
      pagerDutyReceiver(),
      slackReceiver(),
      webhookReceiver(hookSecret),
    ]);
    const secrets = mkdtempSync(join(tmpdir(), "tend-alerts-box-"));
    const repo = new TestRepo();
    t.teardown(async () => {
      await Promise.all([pd.close(), slack.close(), hook.close()]);
      repo.cleanup();
      rmSync(secrets, { recursive: true, force: true });
    });
    const port = await freePort();
    repo.commit(recipes(port, false), "a web service with a health check");
    const fleet = await fleetServer(repo.dir, buildBundle());
    appendFileSync(
      fleet.config,
      `alerts: ${JSON.stringify(alertsConfig(secrets, { pd: pd.url, slack: slack.url, hook: hook.url }))}\n`,
    );
    const server = await fleet.start();
    t.teardown(() => stop(server));
    const box = await bootBox(t, { hostname: "web-1" });
    const token = await fleet.token(1);
    await box.run(`curl -fsSL ${fleet.url}/install.sh | sh -s -- --server ${fleet.url} --token ${token}`);
    // No scheduled run during the test: every run below is the test's.
    await box.run(
      "printf 'schedule: \"0 0 1 1 *\"\\n' >> /etc/tend/agent.yaml && systemctl restart tend-agent",
    );
    t.equal(
      (await box.exec(`curl -fsS http://127.0.0.1:${port}/healthz`)).stdout,
      "ok\n",
      "the service answers",
    );
    await new Promise((r) => setTimeout(r, 2000));
    t.equal(pd.requests + slack.requests + hook.requests, 0, "a healthy box alerts nobody");

    await box.run("mkdir -p /var/lib/tend-web && echo broken > /var/lib/tend-web/status");
    const broken = await box.exec("tend agent run");
    t.equal(broken.code, 4, "the run fails on its check");
    await pd.waitFor((r) => r.length === 1, 60_000);
    t.match(pd.received[0]?.body, {
      event_action: "trigger",
      dedup_key: "tend/web-1/failing",
      payload: {
        summary: new RegExp(
          `^web-1 is failing: check http:http://127\\.0\\.0\\.1:${port}/healthz failed: status 503`,
        ),
        source: "web-1",
        severity: "error",
        custom_details: { failed_checks: [{ id: `http:http://127.0.0.1:${port}/healthz` }], failed_count: 0 },
      },
    });
    await slack.waitFor((r) => r.length === 1, 60_000);
    t.match(String(slack.received[0]?.body.text), /^:red_circle: web-1 is failing: check http:.*status 503/);

    repo.commit(recipes(port, true), "manage the service's status file");
    await fleet.post("/api/v1/hooks/git");
    // The daemon may converge it first (the server pushes the new commit); a run by hand waits for it.
    const repaired = await box.exec("tend agent run");
    t.ok([0, 2].includes(repaired.code), `the converge passes its check (exit ${repaired.code})`);
    t.equal(await box.readFile("/var/lib/tend-web/status"), "ok\n", "the status file is managed now");
    t.equal(
      (await box.exec(`curl -fsS http://127.0.0.1:${port}/healthz`)).stdout,
      "ok\n",
      "it answers again",
    );
    await pd.waitFor((r) => r.length === 2, 60_000);
    t.same(pd.received[1]?.body, {
      routing_key: pd.received[0]?.body.routing_key,
      event_action: "resolve",
      dedup_key: "tend/web-1/failing",
    });
    await slack.waitFor((r) => r.length === 2, 60_000);
    t.match(String(slack.received[1]?.body.text), /^:large_green_circle: web-1 is no longer failing/);
    t.same(pd.invalid.concat(slack.invalid, hook.invalid), []);
  },
);
