/**
 * Each sink's format, checked by the same validators the loopback receivers use (written from
 * PagerDuty's and Slack's documentation, test/helpers/alert-receivers.ts), with hostile report text;
 * Retry-After parsing; and the storm plan (storms.ts) as data.
 */
import type { IncomingMessage } from "node:http";
import t from "tap";
import { raise } from "../../../server/alerts/conditions.js";
import { reportConditions } from "../../../server/alerts/detect.js";
import { pagerDutyBody, slackBody, webhookBody } from "../../../server/alerts/formats.js";
import { type StoredEvent, toAlertEvent } from "../../../server/alerts/kinds.js";
import { retryAfterMs } from "../../../server/alerts/sinks.js";
import { planStorms } from "../../../server/alerts/storms.js";
import type { OutboxRow } from "../../../server/storage/alert-types.js";
import { checkPagerDuty, checkSlack, checkWebhook } from "../../helpers/alert-receivers.js";
import { failingReport, hookSecret, routingKey } from "../../helpers/alert-server.js";

const req = (url: string, headers: Record<string, string> = {}) =>
  ({
    method: "POST",
    url,
    headers: { "content-type": "application/json", ...headers },
  }) as unknown as IncomingMessage;

function hostileTrigger(): StoredEvent {
  const r = failingReport("web-1", { check: true });
  const nginx = r.resources.find((x) => x.id === "package:nginx");
  if (nginx) nginx.error = "<!channel> & <script>alert(1)</script> {{ facts }}";
  const input = reportConditions(r).get("failing");
  const t = raise(
    undefined,
    "failing",
    "web-1",
    input as NonNullable<typeof input>,
    Date.parse("2030-01-01T00:00:00Z"),
  );
  return t.event as StoredEvent;
}

t.test("PagerDuty Events API v2: trigger, resolve and test bodies as documented", async (t) => {
  const trigger = toAlertEvent(
    "00000000-0000-4000-8000-000000000001",
    "https://tend.example.com",
    hostileTrigger(),
  );
  const body = pagerDutyBody(trigger, routingKey, "web-tier");
  const text = JSON.stringify(body);
  t.same(checkPagerDuty(req("/v2/enqueue"), text).problems, [], "the trigger is valid");
  const payload = body.payload as Record<string, unknown>;
  t.match(body, { routing_key: routingKey, event_action: "trigger", dedup_key: "tend/web-1/failing" });
  t.match(payload, {
    source: "web-1",
    severity: "error",
    component: "package:nginx",
    group: "web-tier",
    class: "failing",
  });
  t.match(payload.custom_details, {
    failed_resources: [{ id: "package:nginx" }],
    failed_checks: [{ id: "http:http://127.0.0.1:8080/healthz", reason: "status 503, expected 200" }],
    report_url: /^https:\/\/tend\.example\.com\/ui\/reports\//,
  });
  const resolve = pagerDutyBody({ ...trigger, action: "resolve" }, routingKey, "tend");
  t.same(resolve, { routing_key: routingKey, event_action: "resolve", dedup_key: "tend/web-1/failing" });
  t.same(checkPagerDuty(req("/v2/enqueue"), JSON.stringify(resolve)).problems, []);
  const test = pagerDutyBody({ ...trigger, action: "test", severity: "info" }, routingKey, "tend");
  t.equal(test.event_action, "trigger", "a test event is an info trigger");
  const long = pagerDutyBody({ ...trigger, summary: "y".repeat(5000) }, routingKey, "tend");
  t.equal(((long.payload as Record<string, string>).summary ?? "").length, 1024, "summary cut to 1024");
});

t.test("Slack: one readable message, node text escaped", async (t) => {
  const e = toAlertEvent(
    "00000000-0000-4000-8000-000000000002",
    "https://tend.example.com",
    hostileTrigger(),
  );
  const { text } = slackBody(e);
  t.same(checkSlack(req("/services/x"), JSON.stringify({ text })).problems, [], "valid, no stray < or >");
  t.match(
    text,
    /^:red_circle: web-1 is failing: package:nginx failed: &lt;!channel&gt; &amp; &lt;script&gt;/,
  );
  t.match(
    text,
    /<https:\/\/tend\.example\.com\/ui\/reports\/[^|]+\|Open the report>$/,
    "ends with the report link",
  );
  t.notMatch(text, /<!channel>/, "a node cannot mention the channel");
  const resolved = slackBody({
    ...e,
    action: "resolve",
    at: "2030-01-01T00:12:00.000Z",
    link: "https://tend.example.com/ui/nodes/web-1",
  });
  t.match(
    resolved.text,
    /^:large_green_circle: .* \(open 12 min\)\n<https:\/\/tend\.example\.com\/ui\/nodes\/web-1\|Open the node>$/,
  );
});

t.test("the webhook body is schema-valid and signed", async (t) => {
  const e = toAlertEvent(
    "00000000-0000-4000-8000-000000000003",
    "https://tend.example.com",
    hostileTrigger(),
  );
  const { body, signature } = webhookBody(e, hookSecret);
  const headers = { "x-tend-signature": signature, "x-tend-delivery": e.id };
  t.same(checkWebhook(hookSecret)(req("/tend", headers), body).problems, []);
  t.not(
    checkWebhook("another-secret-entirely")(req("/tend", headers), body).problems,
    [],
    "another secret does not verify",
  );
  t.not(
    checkWebhook(hookSecret)(req("/tend", headers), body.replace("web-1", "web-2")).problems,
    [],
    "nor a changed body",
  );
});

t.test("Retry-After: seconds or an HTTP date, at most an hour", async (t) => {
  const now = Date.parse("2030-01-01T00:00:00Z");
  t.equal(retryAfterMs("120", now), 120_000);
  t.equal(retryAfterMs("Tue, 01 Jan 2030 00:00:30 GMT", now), 30_000);
  t.equal(retryAfterMs("86400", now), 3_600_000);
  t.equal(retryAfterMs("soon", now), null);
  t.equal(retryAfterMs(undefined, now), null);
});

const row = (i: number, o: Partial<OutboxRow> = {}): OutboxRow => ({
  id: `id-${i}`,
  sink: "oncall",
  kind: "failing",
  subject: `web-${i}`,
  seq: 1,
  action: "trigger",
  created_at: 1_000_000 + i * 10,
  event: {} as StoredEvent,
  state: "pending",
  attempts: 0,
  next_at: 0,
  done_at: null,
  last_status: null,
  last_error: null,
  storm: null,
  ...o,
});

t.test("storms: more than max_per_minute triggers of a kind within a minute become one", async (t) => {
  let n = 0;
  const base = { openStorms: [], members: [], recent: [], now: 2_000_000, newId: () => `s${++n}` };
  const few = planStorms({ ...base, perMinute: 100, ready: Array.from({ length: 100 }, (_, i) => row(i)) });
  t.same(few.changes, [], "100 within a minute go one by one");
  const burst = Array.from({ length: 150 }, (_, i) => row(i));
  const plan = planStorms({ ...base, perMinute: 100, ready: burst });
  t.equal(plan.changes.length, 1, "one storm");
  t.equal(plan.taken.size, 50, "the 50 past the limit join it; the first 100 go one by one");
  t.match(plan.changes[0]?.trigger, { kind: "failing", subject: "storm:s1", storm: { count: 50 } });
  const sent = planStorms({
    ...base,
    perMinute: 100,
    ready: burst,
    recent: Array.from({ length: 100 }, () => ({ kind: "failing", created_at: 999_000 })),
  });
  t.equal(sent.taken.size, 150, "after 100 sent in that minute, all of them join");
  const spread = Array.from({ length: 300 }, (_, i) => row(i, { created_at: i * 60_000 }));
  t.same(
    planStorms({ ...base, perMinute: 100, ready: spread }).changes,
    [],
    "one a minute (a sink that was down) is not a storm",
  );
});

t.test("storms: late triggers join, resolves fold, the storm resolves with its last member", async (t) => {
  const storm = {
    id: "s9",
    sink: "oncall",
    kind: "failing",
    opened_at: 0,
    until_at: 1_000_500,
    members: 2,
    resolved: 0,
  };
  const members = [
    { kind: "failing", subject: "web-1", seq: 1, storm: "s9" },
    { kind: "failing", subject: "web-2", seq: 1, storm: "s9" },
  ];
  const base = { perMinute: 100, members, recent: [], now: 5, newId: () => "x" };
  const late = planStorms({ ...base, openStorms: [storm], ready: [row(3)] });
  t.same([...late.taken], ["id-3"], "a trigger within the storm's time joins it");
  t.equal(late.changes[0]?.storm.members, 3);
  const first = planStorms({ ...base, openStorms: [storm], ready: [row(1, { action: "resolve", seq: 2 })] });
  t.same([...first.taken], ["id-1"], "a member's resolve is folded");
  t.equal(first.changes[0]?.resolve, null, "the storm stays open while a member is");
  const last = planStorms({
    ...base,
    openStorms: [{ ...storm, resolved: 1 }],
    ready: [row(2, { action: "resolve", seq: 2 }), row(7, { action: "resolve", seq: 2 })],
  });
  t.same([...last.taken], ["id-2"], "a resolve of a condition outside the storm is sent on its own");
  t.match(last.changes[0]?.resolve, {
    action: "resolve",
    subject: "storm:s9",
    summary: /all 2 nodes recovered/,
  });
});
