/**
 * `alerts:` in server.yaml: mistakes are file:line errors; sink secrets live in private files (the
 * server refuses to start when one is open to others) and appear in no log, page, API answer or
 * database row; `tend server alerts test SINK` sends a test event and says what the sink answered.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { request } from "undici";
import { isTendError } from "../../../core/errors.js";
import { loadConfig } from "../../../server/config.js";
import { permissionProblems } from "../../../server/main.js";
import { pagerDutyReceiver, slackReceiver, webhookReceiver } from "../../helpers/alert-receivers.js";
import { alertsConfig, failingReport, hookSecret, routingKey } from "../../helpers/alert-server.js";
import { goodRecipes, TestRepo } from "../../helpers/server-git.js";
import { callJson, spawnServer, stop, tendServer } from "../../helpers/server-process.js";

function configProblem(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "tend-alert-config-"));
  const file = join(dir, "server.yaml");
  writeFileSync(file, yaml);
  try {
    loadConfig(file);
    return "no error";
  } catch (err) {
    if (!isTendError(err)) throw err;
    return [err.message, ...err.problems.map((p) => `${p.line}: ${p.field}: ${p.message}`)].join("\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test("configuration mistakes say what and where", async (t) => {
  t.match(
    configProblem(
      "alerts:\n  sinks:\n    - name: oncall\n      on: [failng]\n      pagerduty: { routing_key_file: /x }\n",
    ),
    /4: alerts\.sinks\[0\]\.on\[0\]: must be one of "failing", "stale", "drifted", "contested", "refused-commit", "rollout-halted", "all"/,
  );
  t.match(
    configProblem(
      "alerts:\n  sinks:\n    - name: both\n      on: [all]\n      slack: { webhook_url_file: /x }\n      webhook: { url: 'https://x', secret_file: /y }\n",
    ),
    /alerts\.sinks\[0\] \(both\) names slack and webhook: give each sink exactly one of pagerduty, slack or webhook/,
  );
  t.match(
    configProblem("alerts:\n  sinks:\n    - name: none\n      on: [all]\n"),
    /needs at least one of "pagerduty", "slack", "webhook"/,
  );
  t.match(
    configProblem(
      "alerts:\n  sinks:\n    - { name: a, on: [all], slack: { webhook_url_file: /x } }\n    - { name: a, on: [all], slack: { webhook_url_file: /y } }\n",
    ),
    /the sink name "a" is used twice/,
  );
  t.match(
    configProblem("alerts:\n  flap_window: soon\n"),
    /3?: ?alerts\.flap_window: must be a string matching/,
  );
  t.match(configProblem("public_url: tend.example.com\n"), /public_url: must be a string matching/);
});

t.test("secrets: private files, never shown or logged", async (t) => {
  const [pd, slack, hook] = await Promise.all([
    pagerDutyReceiver(),
    slackReceiver(),
    webhookReceiver(hookSecret),
  ]);
  const dir = mkdtempSync(join(tmpdir(), "tend-alert-secrets-"));
  mkdirSync(join(dir, "data"), { mode: 0o700 });
  const repo = new TestRepo();
  repo.commit(goodRecipes);
  t.teardown(async () => {
    await Promise.all([pd.close(), slack.close(), hook.close()]);
    repo.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const alerts = alertsConfig(dir, { pd: pd.url, slack: slack.url, hook: hook.url });
  const config = join(dir, "server.yaml");
  const yaml = {
    listen: "127.0.0.1:0",
    data_dir: `${dir}/data`,
    log_level: "debug",
    public_url: "https://tend.example.com/",
    recipes: { repo: repo.dir, branch: "main", poll: "0" },
    alerts,
  };
  writeFileSync(config, JSON.stringify(yaml), { mode: 0o600 });
  const slackUrl = readFileSync(join(dir, "slack.url"), "utf8").trim();

  chmodSync(join(dir, "pd.key"), 0o644);
  t.match(permissionProblems(loadConfig(config), config), [
    new RegExp(
      `the secret file ${dir}/pd\\.key of alert sink "oncall" has mode 0644, open to others: run \`chmod 600 ${dir}/pd\\.key\``,
    ),
  ]);
  const refused = await tendServer(["--config", config]).then(
    () => "started",
    (err: { stderr: string }) => err.stderr,
  );
  t.match(
    refused,
    /refusing to start: the server's secrets must be private \(TRUST L2\)/,
    "the server refuses to start",
  );
  chmodSync(join(dir, "pd.key"), 0o640);
  t.same(permissionProblems(loadConfig(config), config), [], "a group may read it (root:tend 0640)");
  chmodSync(join(dir, "pd.key"), 0o600);

  const token = (await tendServer(["token", "create", "--config", config])).stdout.trim();
  const admin = (await tendServer(["token", "create", "--admin", "--config", config])).stdout.trim();
  pd.down = true; // errors are logged: they must not carry the key either
  const server = await spawnServer(config);
  t.teardown(() => stop(server));
  const cred = (await callJson(`${server.url}/api/v1/enroll`, "POST", { token, node: "web-1" })).json
    .credential;
  t.equal((await callJson(`${server.url}/api/v1/reports`, "POST", failingReport("web-1"), cred)).status, 201);
  await slack.waitFor((r) => r.length === 1);
  await pd.waitFor(() => pd.requests >= 2);
  t.match(
    String(slack.received[0]?.body.text),
    /<https:\/\/tend\.example\.com\/ui\/reports\/[^|]+\|Open the report>/,
    "links use public_url",
  );
  const api = await callJson(`${server.url}/api/v1/alerts`, "GET", undefined, admin);
  const metrics = await (await request(`${server.url}/metrics`)).body.text();
  t.match(
    metrics,
    /tend_alert_deliveries_total\{sink="oncall",outcome="retry"\} \d+/,
    "failed attempts are counted",
  );
  await stop(server);
  const db =
    readFileSync(join(dir, "data", "tend.db")).toString("latin1") +
    readFileSync(join(dir, "data", "tend.db-wal"), { flag: "a+" }).toString("latin1");
  const seen = {
    stderr: server.stderr(),
    stdout: server.stdout(),
    api: JSON.stringify(api.json),
    metrics,
    db,
  };
  t.match(server.stderr(), /alert delivery failed; will retry/, "the failures were logged");
  for (const [where, text] of Object.entries(seen)) {
    for (const [what, secret] of [
      ["routing key", routingKey],
      ["Slack URL", slackUrl.replace(/^https?:\/\/[^/]+/, "")],
      ["HMAC secret", hookSecret],
    ]) {
      t.notOk(text.includes(secret as string), `the ${what} is not in the ${where}`);
    }
  }
});

t.test("tend server alerts test SINK", async (t) => {
  const [pd, slack, hook] = await Promise.all([
    pagerDutyReceiver(),
    slackReceiver(),
    webhookReceiver(hookSecret),
  ]);
  const dir = mkdtempSync(join(tmpdir(), "tend-alert-cli-"));
  mkdirSync(join(dir, "data"), { mode: 0o700 });
  t.teardown(async () => {
    await Promise.all([pd.close(), slack.close(), hook.close()]);
    rmSync(dir, { recursive: true, force: true });
  });
  const config = join(dir, "server.yaml");
  const alerts = alertsConfig(dir, { pd: pd.url, slack: slack.url, hook: hook.url });
  writeFileSync(config, JSON.stringify({ data_dir: `${dir}/data`, alerts }), { mode: 0o600 });
  const out = await tendServer(["alerts", "test", "oncall", "--config", config]);
  t.match(
    out.stdout,
    /^sent test trigger to oncall \(PagerDuty Events API v2 at 127\.0\.0\.1:\d+\): HTTP 202\nsent test resolve to oncall .*: HTTP 202\n$/,
  );
  t.match(
    pd.received.map((r) => r.body),
    [
      {
        event_action: "trigger",
        dedup_key: "tend/test:oncall/test",
        payload: { severity: "info", summary: /test event for alert sink "oncall"/ },
      },
      { event_action: "resolve", dedup_key: "tend/test:oncall/test" },
    ],
    "PagerDuty: a test trigger, resolved at once",
  );
  await tendServer(["alerts", "test", "audit", "--config", config]);
  t.match(
    hook.received[0]?.body,
    { action: "test", kind: "test", severity: "info" },
    "the webhook's test event is schema-valid",
  );
  slack.script.push({ status: 403 });
  const failed = await tendServer(["alerts", "test", "chat", "--config", config]).then(
    () => "exit 0",
    (err: { stderr: string }) => err.stderr,
  );
  t.match(
    failed,
    /could not send the test event to chat \(Slack incoming webhook at 127\.0\.0\.1:\d+\): HTTP 403/,
  );
  const unknown = await tendServer(["alerts", "test", "nope", "--config", config]).then(
    () => "exit 0",
    (err: { stderr: string }) => err.stderr,
  );
  t.match(unknown, /no alert sink is named "nope" \(configured: oncall, chat, audit\)/);
  t.same(pd.invalid.concat(slack.invalid, hook.invalid), []);
});
