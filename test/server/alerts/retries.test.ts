/**
 * Delivery when sinks misbehave: 500, 429 with Retry-After and no answer at all are retried until
 * the sink answers, in order per dedup key; another 4xx fails that event for good, shown on the
 * dashboard, without holding back the next; a sink down for an hour (a controlled clock) gets
 * every event of the hour, in order per dedup key, once it is back.
 */
import t from "tap";
import {
  alertRig,
  deliverUntil,
  failingReport,
  goodReport,
  sessionCookie,
} from "../../helpers/alert-server.js";
import { testStorages } from "../../helpers/server-storage.js";

for (const make of testStorages()) {
  const storage = make();
  t.test(
    `500, 429 and silence are retried; the sink then gets everything in order (${storage.name})`,
    async (t) => {
      const rig = await alertRig({ storage });
      t.teardown(() => rig.close());
      const { s, pd } = rig;
      pd.script.push({ status: 500 }, { status: 429, retryAfter: "1" }, { hang: true });
      await s.deps.alerts.start();
      t.equal(await rig.post(failingReport("web-1")), 201);
      await pd.waitFor(() => pd.requests >= 2);
      t.equal(await rig.post(goodReport("web-1")), 201, "it recovers while PagerDuty is failing");
      await pd.waitFor((r) => r.length === 2);
      t.same(
        pd.received.map((r) => `${r.body.dedup_key} ${r.body.event_action}`),
        ["tend/web-1/failing trigger", "tend/web-1/failing resolve"],
        "the trigger, then its resolve",
      );
      t.equal(
        pd.requests,
        5,
        "500, 429, a request left unanswered (timed out), then the trigger and the resolve",
      );
      t.ok(
        (pd.times[2] ?? 0) - (pd.times[1] ?? 0) >= 1000,
        "the retry after the 429 waited its Retry-After (1 s)",
      );
      // The receiver answers before the worker records it: wait for the records.
      const oncall = async () =>
        (await s.storage.alerts.recentDeliveries(10)).filter((d) => d.sink === "oncall");
      for (let i = 0; i < 100 && (await oncall()).some((d) => d.state !== "sent"); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const [resolve, trigger] = await oncall();
      t.match(trigger, { action: "trigger", state: "sent", attempts: 4, last_status: 202, last_error: null });
      t.match(resolve, { action: "resolve", state: "sent", attempts: 1 });
      t.same(pd.invalid, []);
    },
  );
}

t.test("another 4xx fails that event for good, on the dashboard, and the next one goes", async (t) => {
  const rig = await alertRig();
  t.teardown(() => rig.close());
  const { s, slack } = rig;
  slack.script.push({ status: 404 });
  t.equal(await rig.post(failingReport("web-1")), 201);
  await deliverUntil(s, () => slack.requests === 1);
  t.equal(await rig.post(goodReport("web-1")), 201);
  await deliverUntil(s, () => slack.received.length === 1);
  await deliverUntil(s, () => false, 5);
  t.equal(slack.requests, 2, "the 404 was not retried");
  t.match(String(slack.received[0]?.body.text), /no longer failing/, "the next event of that key went");
  const failed = (await s.storage.alerts.recentDeliveries(20)).find(
    (d) => d.sink === "chat" && d.state === "failed",
  );
  t.match(failed, { action: "trigger", attempts: 1, last_status: 404, last_error: "HTTP 404: unavailable" });
  const page = await s.app.inject({ url: "/ui/alerts", headers: { cookie: await sessionCookie(s) } });
  t.match(page.body, /<span class="badge s-failed">failed<\/span>/);
  t.match(page.body, /HTTP 404: unavailable/, "the error is shown");
});

t.test("a sink down for an hour gets every event of the hour, in order per dedup key", async (t) => {
  let clock = Date.now();
  const rig = await alertRig({ now: () => clock });
  t.teardown(() => rig.close());
  const { s, pd } = rig;
  pd.down = true;
  const expected = new Map<string, string[]>();
  const nodes = ["web-1", "web-2", "web-3"];
  for (let minute = 0; minute < 60; minute += 5) {
    for (const [i, node] of nodes.entries()) {
      const fail = (minute / 5 + i) % 2 === 0;
      const at = new Date(clock).toISOString();
      t.equal(await rig.post(fail ? failingReport(node, { at }) : goodReport(node, { at })), 201);
      const key = `tend/${node}/failing`;
      const seq = expected.get(key) ?? [];
      const last = seq.at(-1);
      if (fail && last !== "trigger") seq.push("trigger");
      if (!fail && last === "trigger") seq.push("resolve");
      expected.set(key, seq);
    }
    await s.deps.alerts.deliver();
    clock += 5 * 60_000;
  }
  t.ok(pd.requests > 0, "PagerDuty was tried while it was down");
  t.equal(pd.received.length, 0, "and took nothing");
  pd.down = false;
  clock += 10 * 60_000;
  const total = [...expected.values()].reduce((n, x) => n + x.length, 0);
  await deliverUntil(s, () => pd.received.length === total);
  const got = new Map<string, string[]>();
  for (const r of pd.received) {
    const key = String(r.body.dedup_key);
    got.set(key, [...(got.get(key) ?? []), String(r.body.event_action)]);
  }
  t.same(got, expected, `all ${total} events, each dedup key's in order`);
  t.same(pd.invalid, []);
});
