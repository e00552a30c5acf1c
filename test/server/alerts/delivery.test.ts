/**
 * From report to page, on both databases: a failing report triggers PagerDuty, Slack and the
 * webhook (each checked against its documented format by a loopback receiver); more failures send
 * nothing new; the next good run resolves with the same dedup_key; drift goes only where `on` asks;
 * a report that changes nothing writes no outbox row. The dashboard, the API and /metrics show it.
 */
import t from "tap";
import type { Report } from "../../../core/types.js";
import {
  alertRig,
  deliverUntil,
  failingReport,
  goodReport,
  sessionCookie,
} from "../../helpers/alert-server.js";
import { bearer } from "../../helpers/server-app.js";
import { testStorages } from "../../helpers/server-storage.js";

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

for (const make of testStorages()) {
  const storage = make();
  t.test(`a contested resource pages the sinks that want it, and recovers (${storage.name})`, async (t) => {
    const rig = await alertRig({ storage });
    t.teardown(() => rig.close());
    const { s, pd, hook } = rig;
    const fight = { ...goodReport("web-7"), trigger: "watch" as const, contested: ["file:/etc/app.conf"] };
    t.equal(await rig.post(fight), 201);
    await deliverUntil(s, () => hook.received.length === 1);
    t.match(hook.received[0]?.body, {
      action: "trigger",
      kind: "contested",
      node: "web-7",
      dedup_key: "tend/web-7/contested",
      severity: "warning",
      details: { contested_resources: ["file:/etc/app.conf"] },
    });
    t.equal(pd.received.length, 0, "PagerDuty's sink does not list contested");
    t.equal(await rig.post(goodReport("web-7")), 201, "the next scheduled run converges it");
    await deliverUntil(s, () => hook.received.length === 2);
    t.match(hook.received[1]?.body, {
      action: "resolve",
      kind: "contested",
      dedup_key: "tend/web-7/contested",
    });
  });
}

for (const make of testStorages()) {
  const storage = make();
  t.test(`alerts from reports (${storage.name})`, async (t) => {
    const rig = await alertRig({ storage });
    t.teardown(() => rig.close());
    const { s, pd, slack, hook } = rig;
    const outbox = async () => (await s.storage.alerts.recentDeliveries(10_000)).length;

    t.equal(await rig.post(goodReport("web-1")), 201);
    t.equal(await outbox(), 0, "a report that changes no condition writes no outbox row");

    const failing = failingReport("web-1", { check: true });
    t.equal(await rig.post(failing), 201);
    await deliverUntil(
      s,
      () => pd.received.length === 1 && slack.received.length === 1 && hook.received.length === 1,
    );
    const trigger = pd.received[0]?.body as { routing_key: string };
    t.match(trigger, {
      event_action: "trigger",
      dedup_key: "tend/web-1/failing",
      payload: {
        summary: "web-1 is failing: package:nginx failed: E: Unable to locate package nginx",
        source: "web-1",
        severity: "error",
        component: "package:nginx",
        custom_details: {
          report_id: failing.id,
          failed_resources: [{ id: "package:nginx", error: "E: Unable to locate package nginx" }],
          failed_checks: [{ id: "http:http://127.0.0.1:8080/healthz", reason: "status 503, expected 200" }],
          report_url: `http://127.0.0.1:7420/ui/reports/${failing.id}`,
        },
      },
    });
    const message = String(slack.received[0]?.body.text);
    t.match(
      message,
      /web-1 is failing: package:nginx failed: E: Unable to locate package nginx/,
      "Slack: node, what failed, the first error line",
    );
    t.match(
      message,
      new RegExp(`<http://127\\.0\\.0\\.1:7420/ui/reports/${failing.id}\\|Open the report>`),
      "and the report page",
    );
    t.match(
      message,
      /• `http:http:\/\/127\.0\.0\.1:8080\/healthz`: status 503, expected 200/,
      "and the failed check",
    );
    t.match(hook.received[0]?.body, {
      action: "trigger",
      kind: "failing",
      node: "web-1",
      dedup_key: "tend/web-1/failing",
    });

    for (let i = 0; i < 3; i++) t.equal(await rig.post(failingReport("web-1")), 201);
    const rows = await outbox();
    await deliverUntil(s, () => false, 5);
    t.equal(pd.received.length, 1, "repeated failures page once");
    t.equal(slack.received.length + hook.received.length, 2, "and tell nobody again");
    t.equal(await outbox(), rows, "and write no outbox row");

    t.equal(await rig.post(goodReport("web-1")), 201);
    await deliverUntil(
      s,
      () => pd.received.length === 2 && slack.received.length === 2 && hook.received.length === 2,
    );
    t.same(
      pd.received[1]?.body,
      { routing_key: trigger.routing_key, event_action: "resolve", dedup_key: "tend/web-1/failing" },
      "resolve on the same dedup_key",
    );
    t.match(String(slack.received[1]?.body.text), /^:large_green_circle: web-1 is no longer failing/);
    t.match(hook.received[1]?.body, { action: "resolve", dedup_key: "tend/web-1/failing" });

    const drift: Report = goodReport("web-2");
    Object.assign(drift.resources[0] as object, {
      status: "changed",
      drifted: true,
      changes: [{ property: "mode", from: "0600", to: "0644" }],
    });
    drift.status = "changed";
    t.equal(await rig.post(drift), 201);
    await deliverUntil(s, () => slack.received.length === 3 && hook.received.length === 3);
    await settle();
    await s.deps.alerts.deliver();
    t.equal(pd.received.length, 2, "drifted is not among the PagerDuty sink's conditions");
    t.match(
      String(slack.received[2]?.body.text),
      /^:warning: web-2 drifted: tend repaired 1 resource \(file:\/etc\/motd\)/,
    );
    t.same(pd.invalid.concat(slack.invalid, hook.invalid), [], "every request was valid for its service");

    t.equal(await rig.post(failingReport("db-1")), 201);
    await deliverUntil(s, () => pd.received.length === 3);
    const cookie = await sessionCookie(s);
    const page = await s.app.inject({ url: "/ui/alerts", headers: { cookie } });
    t.equal(page.statusCode, 200);
    t.match(page.body, /db-1 is failing: package:nginx failed/, "the Alerts page lists the open condition");
    t.match(page.body, /web-2 drifted/);
    t.notMatch(page.body, /web-1 is failing/, "not a resolved one");
    t.match(page.body, /tend\/web-1\/failing/, "recent deliveries, with their dedup key");
    t.notMatch(page.body, new RegExp(trigger.routing_key), "never the routing key");
    t.match(page.body, /PagerDuty Events API v2 at 127\.0\.0\.1/, "a sink by its type and host");
    const fleet = await s.app.inject({ url: "/ui/", headers: { cookie } });
    t.match(fleet.body, /2 open alerts/, "the fleet page shows open alerts");
    t.match(fleet.body, /href="\/ui\/alerts"/, "linked from the nav and the fleet");
    const api = await s.app.inject({ url: "/api/v1/alerts", headers: bearer(s.adminToken) });
    t.equal(api.statusCode, 200);
    t.same(
      api
        .json()
        .conditions.map((c: { kind: string; subject: string }) => `${c.subject}/${c.kind}`)
        .sort(),
      ["db-1/failing", "web-2/drifted"],
    );
    t.match(api.json().sinks, [
      { name: "oncall", type: "pagerduty", pending: 0 },
      { name: "chat" },
      { name: "audit" },
    ]);
    const metrics = await s.app.inject({ url: "/metrics" });
    t.match(metrics.body, /tend_alert_deliveries_total\{sink="oncall",outcome="sent"\} 3/);
    t.match(metrics.body, /tend_alert_outbox_pending/);
    t.match(metrics.body, /tend_alert_conditions_open\{kind="failing"\} 1/);
  });
}
