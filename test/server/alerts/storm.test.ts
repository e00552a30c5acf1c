/**
 * A bad commit fails 300 nodes at once. PagerDuty (100 a minute) and Slack (50 a minute) get at most
 * their limit one by one and the rest as one storm alert, no condition paged twice; the webhook
 * (no limit) gets every event. When the nodes recover, each individually paged condition resolves
 * on its own key and the storm resolves once, after its last member. The app's clock is the test's,
 * so "a minute" passes when the test says.
 */
import t from "tap";
import type { Received } from "../../helpers/alert-receivers.js";
import { alertRig, deliverUntil, failingReport, goodReport } from "../../helpers/alert-server.js";
import { testStorages } from "../../helpers/server-storage.js";

const nodes = Array.from({ length: 300 }, (_, i) => `web-${i}`);

/** Individual triggers by node, and storm triggers, of one receiver. */
function split(received: Received[], key: (b: Record<string, unknown>) => string, storm = /storm:/) {
  const keys = received.map((r) => key(r.body));
  return { keys, storms: keys.filter((k) => storm.test(k)), singles: keys.filter((k) => !storm.test(k)) };
}

for (const [i, make] of testStorages().entries()) {
  t.test(`a storm of 300 failing nodes (${i === 0 ? "sqlite" : "postgres"})`, async (t) => {
    let clock = Date.now();
    const rig = await alertRig({ storage: make(), now: () => clock });
    t.teardown(() => rig.close());
    const { s, pd, slack, hook } = rig;
    await rig.enroll(nodes);
    await s.deps.alerts.start();
    const at = () => new Date(clock).toISOString();
    const statuses = await Promise.all(nodes.map((n) => rig.post(failingReport(n, { at: at() }))));
    t.ok(
      statuses.every((x) => x === 201),
      "every report stored",
    );
    await hook.waitFor((r) => r.length === 300);
    await pd.waitFor((r) => r.some((x) => String(x.body.dedup_key).includes("storm:")));
    await slack.waitFor((r) => r.some((x) => /storm/.test(String(x.body.text))));
    await new Promise((r) => setTimeout(r, 300));

    const p = split(pd.received, (b) => String(b.dedup_key));
    t.equal(p.storms.length, 1, "PagerDuty: one storm page");
    t.ok(p.singles.length <= 100, `PagerDuty: at most 100 one by one in the minute (${p.singles.length})`);
    t.equal(new Set(p.keys).size, p.keys.length, "no condition paged twice");
    const storm = pd.received.find((r) => String(r.body.dedup_key).includes("storm:"))?.body as {
      payload: { summary: string };
    };
    const coalesced = (await s.storage.alerts.recentDeliveries(5000)).filter((d) => d.sink === "oncall");
    t.equal(
      coalesced.filter((d) => d.state === "coalesced").length,
      0,
      "coalesced events are not listed as deliveries",
    );
    const members = await s.storage.alerts.stormMembers([String(p.storms[0]).split("/")[1]?.slice(6) ?? ""]);
    t.same(
      [...members.map((m) => `tend/${m.subject}/failing`), ...p.singles].sort(),
      nodes.map((n) => `tend/${n}/failing`).sort(),
      "every node is paged once: on its own or in the storm",
    );
    t.match(storm.payload.summary, /^failing on \d+ nodes at once \(a storm\): web-/);
    t.equal(pd.requests, pd.received.length, "PagerDuty never had to say 429");
    const sl = split(slack.received, (b) => String(b.text), /\(a storm\)/);
    t.equal(sl.storms.length, 1, "Slack: one storm message");
    t.ok(sl.singles.length <= 50, `Slack: at most 50 one by one (${sl.singles.length})`);
    t.equal(new Set(hook.received.map((r) => r.body.dedup_key)).size, 300, "the webhook gets every event");

    // Every node recovers but one member of the storm: the storm stays open.
    const last = members[0]?.subject as string;
    for (const n of nodes) if (n !== last) t.equal(await rig.post(goodReport(n, { at: at() })), 201);
    const resolves = () => pd.received.filter((r) => r.body.event_action === "resolve");
    for (let m = 0; m < 10 && resolves().length < p.singles.length; m++) {
      clock += 61_000; // a minute passes: the rate budget is back
      await deliverUntil(s, () => resolves().length === p.singles.length, 50);
    }
    await deliverUntil(s, () => false, 5);
    const resolved = resolves().map((r) => String(r.body.dedup_key));
    t.same(resolved.sort(), p.singles.sort(), "each condition paged on its own resolves on its own key");
    t.equal(
      resolved.filter((k) => k.includes("storm:")).length,
      0,
      "the storm is open while a member is failing",
    );
    t.equal(await rig.post(goodReport(last, { at: at() })), 201);
    clock += 61_000;
    await deliverUntil(s, () => resolves().length === p.singles.length + 1);
    t.same(
      resolves().at(-1)?.body.dedup_key,
      p.storms[0],
      "its last member's recovery resolves the storm, once",
    );
    await hook.waitFor((r) => r.length === 600);
    t.same(pd.invalid.concat(slack.invalid, hook.invalid), []);
  });
}
