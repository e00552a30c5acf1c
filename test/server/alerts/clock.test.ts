/**
 * What time decides, with the app's clock in the test's hands, on both databases: flapping (a
 * condition that clears and returns within flap_window is held open: one page, one resolve once it
 * stays clear), staleness from each node's own interval (at least 15 minutes; 3 × agent_interval
 * for a node that never reported; `stale_after` when set), and revoked nodes' conditions closing.
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

const minute = 60_000;

for (const [i, make] of testStorages().entries()) {
  const name = i === 0 ? "sqlite" : "postgres";
  t.test(`flapping is held open (${name})`, async (t) => {
    const storage = make();
    let clock = Date.now();
    const rig = await alertRig({ storage, now: () => clock, alerts: { flap_window: "10m" } });
    t.teardown(() => rig.close());
    const { s, pd } = rig;
    const at = () => new Date(clock).toISOString();
    const step = async (ms: number, report: "fail" | "good" | null) => {
      clock += ms;
      if (report)
        t.equal(
          await rig.post(
            report === "fail" ? failingReport("web-1", { at: at() }) : goodReport("web-1", { at: at() }),
          ),
          201,
        );
      await s.deps.alerts.sweep();
      await deliverUntil(s, () => false, 3);
    };
    const actions = () => pd.received.map((r) => r.body.event_action);

    await step(0, "fail");
    t.same(actions(), ["trigger"]);
    await step(minute, "good");
    t.same(actions(), ["trigger"], "a clear is held, not resolved");
    const [held] = await s.storage.alerts.openConditions(10);
    t.match(held, { kind: "failing", state: "clearing", clear_at: clock + 10 * minute });
    const page = await s.app.inject({ url: "/ui/alerts", headers: { cookie: await sessionCookie(s) } });
    t.match(page.body, /recovering<\/span> <span class="muted">resolves in 10 min unless it returns/);
    await step(2 * minute, "fail");
    t.same(actions(), ["trigger"], "back within the window: held open, nobody paged again");
    await step(minute, "good");
    await step(9 * minute, null);
    t.same(actions(), ["trigger"], "9 minutes after the last clear it is still held");
    await step(2 * minute, null);
    t.same(actions(), ["trigger", "resolve"], "resolved once it stayed clear for the window");
    t.equal(pd.received[1]?.body.dedup_key, "tend/web-1/failing");
    const last = rig.hook.received.at(-1)?.body as { action: string; details: { flaps: number } };
    t.match(last, { action: "resolve", details: { flaps: 1 } }, "the resolve says it flapped once");
    await step(minute, "fail");
    t.same(actions(), ["trigger", "resolve", "trigger"], "a new failure after that pages again");
  });

  t.test(`stale nodes, from their own interval (${name})`, async (t) => {
    const storage = make();
    let clock = Date.now();
    const rig = await alertRig({ storage, now: () => clock });
    t.teardown(() => rig.close());
    const { s, pd, slack } = rig;
    const at = () => new Date(clock).toISOString();
    t.equal(await rig.post(goodReport("web-1", { at: at(), interval: 60 })), 201);
    t.equal(await rig.post(goodReport("batch-1", { at: at(), interval: 3600 })), 201);
    await s.enroll("db-1");
    const sweepAt = async (ms: number) => {
      clock += ms;
      await s.deps.alerts.sweep();
      await deliverUntil(s, () => false, 3);
    };
    await sweepAt(14 * minute);
    t.equal(
      pd.received.length,
      0,
      "a node that runs every minute is not stale after 14 minutes (at least 15)",
    );
    await sweepAt(2 * minute);
    t.same(
      pd.received.map((r) => r.body.dedup_key),
      ["tend/web-1/stale"],
      "after 16 minutes it is; the hourly node and the one that never reported are not yet",
    );
    t.match(pd.received[0]?.body, {
      payload: {
        summary: "web-1 is stale: no report for 16 min (it runs every 1 min)",
        severity: "warning",
        component: "tend-agent",
      },
    });
    t.match(String(slack.received[0]?.body.text), /^:warning: web-1 is stale: no report for 16 min/);
    await sweepAt(75 * minute);
    t.same(
      pd.received.map((r) => r.body.dedup_key).sort(),
      ["tend/db-1/stale", "tend/web-1/stale"],
      "after 91 minutes the node that never reported is stale (3 × agent_interval); the hourly one is not (3 h)",
    );
    t.match(pd.received[1]?.body, {
      payload: { summary: "db-1 is stale: no report since it enrolled 91 min ago" },
    });
    await sweepAt(minute);
    t.equal(pd.received.length, 2, "staying stale pages once");

    t.equal(await rig.post(goodReport("web-1", { at: at(), interval: 60 })), 201);
    await deliverUntil(s, () => pd.received.length === 3);
    t.same(
      pd.received[2]?.body,
      {
        routing_key: pd.received[0]?.body.routing_key,
        event_action: "resolve",
        dedup_key: "tend/web-1/stale",
      },
      "a report resolves stale",
    );
    t.ok(await s.storage.revokeNode("db-1", clock));
    await sweepAt(0);
    await deliverUntil(s, () => pd.received.length === 4);
    t.match(
      pd.received[3]?.body,
      { event_action: "resolve", dedup_key: "tend/db-1/stale" },
      "a revoked node's alerts close",
    );
    await sweepAt(200 * minute);
    t.same(
      pd.received
        .slice(4)
        .map((r) => r.body.dedup_key)
        .sort(),
      ["tend/batch-1/stale", "tend/web-1/stale"],
      "after 3 h the hourly node is stale, and web-1 (silent again) pages again; the revoked node never",
    );
    t.same(pd.invalid.concat(slack.invalid, rig.hook.invalid), []);
  });
}

t.test("stale_after overrides the intervals", async (t) => {
  let clock = Date.now();
  const rig = await alertRig({ now: () => clock, alerts: { stale_after: "45m" } });
  t.teardown(() => rig.close());
  t.equal(await rig.post(goodReport("web-1", { at: new Date(clock).toISOString(), interval: 60 })), 201);
  clock += 44 * minute;
  await rig.s.deps.alerts.sweep();
  await deliverUntil(rig.s, () => false, 3);
  t.equal(rig.pd.received.length, 0, "not after 44 minutes");
  clock += 2 * minute;
  await rig.s.deps.alerts.sweep();
  await deliverUntil(rig.s, () => rig.pd.received.length === 1);
  t.match(rig.pd.received[0]?.body, { dedup_key: "tend/web-1/stale" }, "after 46");
});

t.test(
  "after an upgrade, a node that reported before the server kept arrival times is judged by its last poll",
  async (t) => {
    let clock = Date.now();
    const rig = await alertRig({ now: () => clock });
    t.teardown(() => rig.close());
    t.equal(await rig.post(goodReport("old-1", { at: new Date(clock).toISOString(), interval: 60 })), 201);
    // As a database from before alerts has it: no arrival time, a catalog request (last_seen) now.
    const db = (
      rig.s.storage as unknown as { db: { query: (sql: string, p: unknown[]) => Promise<unknown> } }
    ).db;
    await db.query("UPDATE nodes SET last_received = NULL, last_seen = $1 WHERE name = $2", [
      clock + 10 * minute,
      "old-1",
    ]);
    clock += 20 * minute;
    await rig.s.deps.alerts.sweep();
    await deliverUntil(rig.s, () => false, 3);
    t.equal(
      rig.pd.received.length,
      0,
      "10 minutes after its last poll it is not stale, though it enrolled 20 minutes ago",
    );
    clock += 6 * minute;
    await rig.s.deps.alerts.sweep();
    await deliverUntil(rig.s, () => rig.pd.received.length === 1);
    t.match(rig.pd.received[0]?.body, {
      payload: { summary: "old-1 is stale: no report for 16 min (it runs every 1 min)" },
    });
  },
);
