/**
 * How a condition moves (server/alerts/conditions.ts), as data: each case is a sequence of
 * operations on one condition and the events it must produce. Then what a report raises
 * (detect.ts): failed resources and checks, repaired drift, and nothing for a plan's would-change.
 */
import t from "tap";
import type { Report } from "../../../core/types.js";
import { type ConditionRow, clear, expire, raise, retire } from "../../../server/alerts/conditions.js";
import { reportConditions, wantedKinds } from "../../../server/alerts/detect.js";
import { failingReport, goodReport } from "../../helpers/alert-server.js";

type Op = ["raise", number] | ["clear", number] | ["expire", number] | ["retire", number];

const cases: { name: string; flap: number; ops: Op[]; events: string[]; state: string; flaps?: number }[] = [
  { name: "a first raise triggers", flap: 600, ops: [["raise", 0]], events: ["trigger#1"], state: "open" },
  {
    name: "repeated raises page once",
    flap: 600,
    ops: [
      ["raise", 0],
      ["raise", 10],
      ["raise", 20],
    ],
    events: ["trigger#1"],
    state: "open",
  },
  {
    name: "a clear is held for the flap window, then resolves",
    flap: 600,
    ops: [
      ["raise", 0],
      ["clear", 100],
      ["expire", 699],
      ["expire", 700],
    ],
    events: ["trigger#1", "resolve#2"],
    state: "closed",
  },
  {
    name: "a return within the flap window is held open: no second page",
    flap: 600,
    ops: [
      ["raise", 0],
      ["clear", 100],
      ["raise", 300],
      ["clear", 400],
      ["expire", 1000],
    ],
    events: ["trigger#1", "resolve#2"],
    state: "closed",
    flaps: 1,
  },
  {
    name: "a return after the window pages again, with the next seq",
    flap: 600,
    ops: [
      ["raise", 0],
      ["clear", 100],
      ["expire", 700],
      ["raise", 800],
    ],
    events: ["trigger#1", "resolve#2", "trigger#3"],
    state: "open",
  },
  {
    name: "flap_window 0 resolves at once",
    flap: 0,
    ops: [
      ["raise", 0],
      ["clear", 5],
      ["raise", 6],
    ],
    events: ["trigger#1", "resolve#2", "trigger#3"],
    state: "open",
  },
  {
    name: "clearing what is not open does nothing",
    flap: 600,
    ops: [["clear", 0]],
    events: [],
    state: "none",
  },
  {
    name: "retire resolves at once, even while clearing",
    flap: 600,
    ops: [
      ["raise", 0],
      ["clear", 10],
      ["retire", 20],
    ],
    events: ["trigger#1", "resolve#2"],
    state: "closed",
  },
];

t.test("condition transitions", async (t) => {
  for (const c of cases) {
    let row: ConditionRow | undefined;
    const events: string[] = [];
    for (const [op, at] of c.ops) {
      const input = { node: "web-1", summary: "web-1 is failing", details: { report_id: "r1" } };
      const tr =
        op === "raise"
          ? raise(row, "failing", "web-1", input, at)
          : op === "clear"
            ? clear(row, at, c.flap)
            : op === "retire"
              ? row
                ? retire(row, at)
                : { row: null, event: null }
              : row
                ? expire(row, at)
                : { row: null, event: null };
      if (tr.row) row = tr.row;
      if (tr.event) events.push(`${tr.event.action}#${tr.row?.seq}`);
    }
    t.same(events, c.events, `${c.name}: events`);
    t.equal(row?.state ?? "none", c.state, `${c.name}: state`);
    if (c.flaps !== undefined) t.equal(row?.flaps, c.flaps, `${c.name}: flaps counted`);
  }
});

t.test("a resolve repeats its trigger's details and times", async (t) => {
  const opened = raise(
    undefined,
    "failing",
    "web-1",
    { node: "web-1", summary: "s", details: { report_id: "r1" } },
    1000,
  );
  const closed = clear(opened.row as ConditionRow, 61_000, 0);
  t.equal(closed.event?.action, "resolve");
  t.equal(closed.event?.opened_at, new Date(1000).toISOString());
  t.equal(closed.event?.at, new Date(61_000).toISOString());
  t.same(closed.event?.details, { report_id: "r1", flaps: 0 });
  t.equal(closed.event?.summary, "web-1 is no longer failing");
});

t.test("what a report raises", async (t) => {
  const failing = failingReport("web-1", { check: true });
  const got = reportConditions(failing).get("failing");
  t.equal(got?.summary, "web-1 is failing: package:nginx failed: E: Unable to locate package nginx");
  t.same(got?.details.failed_resources, [
    { id: "package:nginx", error: "E: Unable to locate package nginx" },
  ]);
  t.same(got?.details.failed_checks, [
    {
      id: "http:http://127.0.0.1:8080/healthz",
      reason: "status 503, expected 200",
      excerpt: "upstream down",
    },
  ]);
  t.equal(wantedKinds(failing), "failing");

  const onlyCheck: Report = { ...goodReport("web-2"), status: "failed" };
  onlyCheck.checks = [
    {
      id: "tcp:127.0.0.1:5432",
      type: "tcp",
      status: "failed",
      attempts: 1,
      duration_ms: 2,
      reason: "connection refused",
    },
  ];
  t.equal(
    reportConditions(onlyCheck).get("failing")?.summary,
    "web-2 is failing: check tcp:127.0.0.1:5432 failed: connection refused",
    "a failed check alone makes the node failing, and says which",
  );

  const runError: Report = {
    ...goodReport("web-3"),
    status: "failed",
    resources: [],
    error: "the server key does not verify\nsecond line",
  };
  t.equal(
    reportConditions(runError).get("failing")?.summary,
    "web-3 is failing: the server key does not verify",
  );

  const drift = goodReport("web-4");
  const motd = drift.resources[0] as Report["resources"][number];
  Object.assign(motd, {
    status: "changed",
    drifted: true,
    changes: [{ property: "content", from: "x", to: "y" }],
  });
  t.equal(wantedKinds(drift), "drifted", "repaired drift raises drifted");
  t.same(reportConditions(drift).get("drifted")?.details.drifted_resources, [
    { id: "file:/etc/motd", changes: ["content: x → y"] },
  ]);
  motd.status = "would-change";
  t.equal(wantedKinds(drift), "", "a plan that would repair drift repaired nothing");
  t.equal(wantedKinds(goodReport("web-5")), "", "a clean run wants nothing open");
});

t.test("a watch report with contested resources raises contested; one without clears it", async (t) => {
  const fight = { ...goodReport("web-6"), trigger: "watch" as const, contested: ["file:/etc/app.conf"] };
  t.equal(wantedKinds(fight), "contested");
  t.match(reportConditions(fight).get("contested"), {
    node: "web-6",
    summary: /web-6: 1 resource is contested — something keeps changing it back \(file:\/etc\/app\.conf\)/,
    details: { contested_resources: ["file:/etc/app.conf"], contested_count: 1 },
  });
  const both = { ...failingReport("web-6"), contested: ["file:/etc/a", "file:/etc/b"] };
  t.equal(wantedKinds(both), "contested,failing", "with others, in the node row's order");
  t.equal(wantedKinds({ ...fight, contested: [] }), "", "an empty list wants nothing open");
});

t.test("report strings are cut to a bounded size", async (t) => {
  const r = failingReport("web-1");
  const nginx = r.resources.find((x) => x.id === "package:nginx") as Report["resources"][number];
  nginx.error = "x".repeat(60_000);
  const got = reportConditions(r).get("failing");
  t.ok((got?.summary.length ?? 0) < 400, "the summary stays short");
  t.ok(JSON.stringify(got?.details).length < 2000, "the details too");
});
