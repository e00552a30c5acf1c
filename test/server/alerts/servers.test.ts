/**
 * Never lost, never twice: `tend server` as a real process, killed with an alert still in its
 * outbox, delivers it after the restart; two servers on one PostgreSQL deliver each event once, and
 * when the one working a sink dies without a word, the other takes the sink over once its lease
 * lapses.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { openPostgres } from "../../../server/storage/postgres.js";
import { pagerDutyReceiver, slackReceiver, webhookReceiver } from "../../helpers/alert-receivers.js";
import { alertRig, alertsConfig, failingReport, hookSecret } from "../../helpers/alert-server.js";
import { bearer, startTestServer, type TestServer } from "../../helpers/server-app.js";
import { goodRecipes, TestRepo } from "../../helpers/server-git.js";
import { callJson, spawnServer, stop, tendServer } from "../../helpers/server-process.js";
import {
  noPgReason,
  pgUrl,
  postgresStorage,
  type TestStorage,
  testStorages,
} from "../../helpers/server-storage.js";

for (const [i, make] of testStorages().entries()) {
  const name = i === 0 ? "sqlite" : "postgres";
  t.test(`an alert in the outbox survives a restart (${name})`, async (t) => {
    const storage = make();
    const [pd, slack, hook] = await Promise.all([
      pagerDutyReceiver(),
      slackReceiver(),
      webhookReceiver(hookSecret),
    ]);
    const dir = mkdtempSync(join(tmpdir(), "tend-alert-restart-"));
    mkdirSync(join(dir, "data"), { mode: 0o700 });
    const repo = new TestRepo();
    repo.commit(goodRecipes);
    const config = join(dir, "server.yaml");
    const db =
      storage.name === "sqlite" ? {} : { database: storage.database, database_schema: storage.schema };
    const yaml = {
      listen: "127.0.0.1:0",
      data_dir: `${dir}/data`,
      log_level: "warn",
      ...db,
      recipes: { repo: repo.dir, branch: "main", poll: "0" },
      alerts: alertsConfig(dir, { pd: pd.url, slack: slack.url, hook: hook.url }),
    };
    writeFileSync(config, JSON.stringify(yaml), { mode: 0o600 });
    t.teardown(async () => {
      await Promise.all([pd.close(), slack.close(), hook.close()]);
      await storage.cleanup();
      repo.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });
    pd.down = true;
    const token = (await tendServer(["token", "create", "--config", config])).stdout.trim();
    const first = await spawnServer(config);
    const enrolled = await callJson(`${first.url}/api/v1/enroll`, "POST", { token, node: "web-1" });
    const cred = enrolled.json.credential as string;
    const report = failingReport("web-1");
    t.equal((await callJson(`${first.url}/api/v1/reports`, "POST", report, cred)).status, 201);
    // Killed once the outbox says: the webhook and Slack have it, PagerDuty (down) was tried.
    const admin = (await tendServer(["token", "create", "--admin", "--config", config])).stdout.trim();
    type Delivery = { sink: string; state: string; attempts: number };
    const recorded = async () => {
      const d = (await callJson(`${first.url}/api/v1/alerts`, "GET", undefined, admin)).json
        .deliveries as Delivery[];
      const sent = d
        .filter((x) => x.state === "sent")
        .map((x) => x.sink)
        .sort();
      return sent.join() === "audit,chat" && d.some((x) => x.sink === "oncall" && x.attempts > 0);
    };
    for (let i = 0; i < 300 && !(await recorded()); i++) await new Promise((r) => setTimeout(r, 50));
    // SQLite: killed outright. PostgreSQL: stopped (a killed server's sink would wait for its lease
    // to lapse, which the two-server test below shows).
    await stop(first, storage.name === "sqlite" ? "SIGKILL" : "SIGTERM");
    t.equal(pd.received.length, 0, "PagerDuty was down: the trigger is still in the outbox");
    pd.down = false;
    const second = await spawnServer(config);
    t.teardown(() => stop(second));
    await pd.waitFor((r) => r.length === 1);
    t.match(
      pd.received[0]?.body,
      { event_action: "trigger", dedup_key: "tend/web-1/failing" },
      "delivered after the restart",
    );
    await new Promise((r) => setTimeout(r, 1500));
    t.equal(hook.received.length, 1, "the webhook, which had it, does not get it again");
    t.equal(slack.received.length, 1, "nor Slack");
    t.equal(pd.received.length, 1, "PagerDuty gets it once");
  });
}

t.test(
  "two servers on one PostgreSQL deliver each event once",
  { skip: pgUrl ? false : noPgReason },
  async (t) => {
    const url = pgUrl as string;
    const base = postgresStorage(url);
    // Both open the same schema, each with its own pool, as two processes would.
    const shared = (): TestStorage => ({
      ...base,
      open: () => openPostgres({ url, schema: base.schema, max: 4 }),
      cleanup: async () => {},
    });
    const worker = { leaseMs: 1500, pollMs: 50, timeoutMs: 1000, backoff: { baseMs: 50, capMs: 400 } };
    const a = await alertRig({ storage: shared(), alertWorker: worker });
    const b = await startTestServer({
      storage: shared(),
      repo: a.s.repo,
      config: { alerts: a.alerts },
      alertWorker: worker,
    });
    t.teardown(async () => {
      await b.close();
      await a.close();
      await base.cleanup();
    });
    await a.s.deps.alerts.start();
    await b.deps.alerts.start();
    const nodes = Array.from({ length: 40 }, (_, i) => `web-${i}`);
    const creds = new Map<string, string>();
    for (const n of nodes) creds.set(n, await a.s.enroll(n));
    const post = (app: TestServer["app"], node: string) =>
      app.inject({
        method: "POST",
        url: "/api/v1/reports",
        headers: bearer(creds.get(node) as string),
        payload: failingReport(node),
      });
    const results = await Promise.all(nodes.map((n, i) => post(i % 2 ? a.s.app : b.app, n)));
    t.same([...new Set(results.map((r) => r.statusCode))], [201], "half the reports to each server");
    await a.hook.waitFor((r) => r.length === 40);
    await a.pd.waitFor((r) => r.length === 40);
    await new Promise((r) => setTimeout(r, 1000));
    t.equal(a.hook.received.length, 40, "the webhook got 40 events");
    t.equal(new Set(a.hook.received.map((r) => r.headers["x-tend-delivery"])).size, 40, "each once");
    t.equal(new Set(a.pd.received.map((r) => r.body.dedup_key)).size, 40, "PagerDuty: each dedup key once");
    t.equal(a.pd.requests, 40, "and no request twice");

    const owner = (await a.s.storage.alerts.sinkStates()).find((x) => x.name === "audit")?.owner;
    const [dying, survivor] = owner === a.s.deps.alerts.worker.owner ? [a.s, b] : [b, a.s];
    await dying.deps.alerts.worker.stop(false); // dies holding its sinks
    const more = Array.from({ length: 10 }, (_, i) => `db-${i}`);
    for (const n of more) creds.set(n, await a.s.enroll(n));
    for (const n of more) t.equal((await post(survivor.app, n)).statusCode, 201);
    await a.hook.waitFor((r) => r.length === 50);
    await new Promise((r) => setTimeout(r, 500));
    t.equal(
      new Set(a.hook.received.map((r) => r.headers["x-tend-delivery"])).size,
      50,
      "the survivor took the sinks over once their lease lapsed: all 50, each once",
    );
    t.same(a.pd.invalid.concat(a.slack.invalid, a.hook.invalid), []);
  },
);
