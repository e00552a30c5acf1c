/**
 * Notifications: delivered once, only after the notifier changed, persisted until delivered; and
 * the truth table of a dependant's outcome per target outcome, which docs/engine.md shows.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { type EngineOptions, runCatalog } from "../../../agent/engine/index.js";
import { JOURNAL_FILE } from "../../../agent/store/notify-journal.js";
import type { Catalog, CatalogResource } from "../../../core/types.js";
import { catalog, testFacts as facts, probeKind, resource } from "../../helpers/catalog.js";

function setup(tt: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), "tend-notify-"));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, "state");
  const events: string[] = [];
  const kinds = { file: probeKind("file", dir, events), service: probeKind("service", dir, events) };
  const run = async (cat: Catalog, more: Partial<EngineOptions> = {}) => {
    const report = await runCatalog(cat, { kinds, facts, stateDir, ...more });
    return { report, status: Object.fromEntries(report.resources.map((r) => [r.id, r.status])) };
  };
  const refreshes = (name: string) => {
    const p = join(dir, `${name}.refreshed`);
    return existsSync(p) ? readFileSync(p, "utf8").length / 2 : 0;
  };
  return { dir, stateDir, events, run, refreshes };
}

t.test("two notifiers that change refresh their target once, at its turn", async (t) => {
  const s = setup(t);
  writeFileSync(join(s.dir, "svc"), "S");
  const cat = catalog([
    resource("file", "a", { content: "A" }, { notify: ["service:svc"] }),
    resource("file", "b", { content: "B" }, { notify: ["service:svc"] }),
    resource("service", "svc", { content: "S" }, { require: ["file:a", "file:b"] }),
  ]);
  const { report, status } = await s.run(cat);
  t.same(status, { "file:a": "changed", "file:b": "changed", "service:svc": "changed" });
  t.equal(s.refreshes("svc"), 1);
  t.same(report.resources[2]?.changes, [{ property: "refresh", from: null, to: ["file:a", "file:b"] }]);
  t.notOk(report.resources[2]?.drifted, "a refresh is not drift");
  t.same(
    s.events.filter((e) => e.includes("svc")),
    ["prefetch service service:svc", "check service:svc", "refresh service:svc"],
  );
  t.notOk(existsSync(join(s.stateDir, JOURNAL_FILE)), "a delivered notification leaves no journal");

  const again = await s.run(cat);
  t.equal(again.report.summary.changed, 0);
  t.equal(s.refreshes("svc"), 1, "no refresh when no notifier changed");
});

t.test("a target that changes itself is still refreshed once, after its own change", async (t) => {
  const s = setup(t);
  const cat = catalog([
    resource("file", "conf", { content: "C" }, { notify: ["service:svc"] }),
    resource("service", "svc", { content: "S" }),
  ]);
  await s.run(cat);
  t.same(
    s.events.filter((e) => e.includes("svc") && !e.startsWith("prefetch")),
    ["check service:svc", "apply service:svc", "check service:svc", "refresh service:svc"],
  );
});

t.test("a notification to a resource that already ran is delivered once after the walk", async (t) => {
  const s = setup(t);
  writeFileSync(join(s.dir, "svc"), "S");
  const cat = catalog([
    resource("service", "svc", { content: "S" }),
    resource("file", "a", { content: "A" }, { notify: ["service:svc"] }),
    resource("file", "b", { content: "B" }, { notify: ["service:svc"] }),
  ]);
  const { report, status } = await s.run(cat);
  t.same(status, { "service:svc": "changed", "file:a": "changed", "file:b": "changed" });
  t.equal(s.refreshes("svc"), 1);
  t.equal(s.events.at(-1), "refresh service:svc");
  t.same(report.summary.changed, 3);
});

t.test("a failed refresh stays pending and is delivered by the next run", async (t) => {
  const s = setup(t);
  const broken = catalog([
    resource("file", "conf", { content: "v2" }, { notify: ["service:svc"] }),
    resource("service", "svc", { content: "S", fail: "refresh" }),
  ]);
  writeFileSync(join(s.dir, "svc"), "S");
  const first = await s.run(broken);
  t.same(first.status, { "file:conf": "changed", "service:svc": "failed" });
  t.equal(first.report.resources[1]?.error, "restart failed");
  t.ok(existsSync(join(s.stateDir, JOURNAL_FILE)), "the notification is kept");

  // The config is in place now, so nothing notifies again: only the journal remembers.
  const fixed = catalog([
    resource("file", "conf", { content: "v2" }, { notify: ["service:svc"] }),
    resource("service", "svc", { content: "S" }),
  ]);
  const plan = await s.run(fixed, { noop: true });
  t.same(
    plan.status,
    { "file:conf": "unchanged", "service:svc": "would-change" },
    "a plan shows the owed refresh",
  );
  t.equal(s.refreshes("svc"), 0);
  const second = await s.run(fixed);
  t.same(second.status, { "file:conf": "unchanged", "service:svc": "changed" });
  t.equal(s.refreshes("svc"), 1);
  t.notOk(existsSync(join(s.stateDir, JOURNAL_FILE)));
  t.equal((await s.run(fixed)).report.summary.changed, 0);
});

t.test("a notification whose notifier failed stays pending until the target can run", async (t) => {
  const s = setup(t);
  writeFileSync(join(s.dir, "svc"), "S");
  const failing = catalog([
    resource("file", "conf", { content: "v2", fail: "stuck" }, { notify: ["service:svc"] }),
    resource("service", "svc", { content: "S" }),
  ]);
  const first = await s.run(failing);
  t.same(first.status, { "file:conf": "failed", "service:svc": "skipped" });
  t.equal(first.report.resources[1]?.error, "file:conf failed");
  const ok = catalog([
    resource("file", "conf", { content: "v2" }, { notify: ["service:svc"] }),
    resource("service", "svc", { content: "S" }),
  ]);
  await s.run(ok);
  t.equal(s.refreshes("svc"), 1);
});

t.test("notifications for resources gone from the catalog are dropped", async (t) => {
  const s = setup(t);
  await s.run(
    catalog([
      resource("file", "conf", { content: "v1" }, { notify: ["service:svc"] }),
      resource("service", "svc", { content: "S", fail: "refresh" }),
    ]),
  );
  t.ok(existsSync(join(s.stateDir, JOURNAL_FILE)));
  await s.run(catalog([resource("file", "conf", { content: "v1" })]));
  t.notOk(existsSync(join(s.stateDir, JOURNAL_FILE)));
});

// --- The truth table: a dependant's outcome for each outcome of the resource it depends on. ---

type Outcome = "unchanged" | "changed" | "failed" | "skipped" | "would-change";

/** Resources that make `target` end up with `outcome` (a failing guard first for "skipped"). */
function targetFor(outcome: Outcome, notify: string[]): CatalogResource[] {
  const content = outcome === "unchanged" ? "same" : "new";
  if (outcome === "skipped") {
    return [
      resource("file", "guard", { content: "G", fail: "apply" }),
      resource("file", "target", { content }, { require: ["file:guard"], notify }),
    ];
  }
  return [
    resource("file", "target", { content, ...(outcome === "failed" ? { fail: "apply" } : {}) }, { notify }),
  ];
}

async function dependantOutcome(tt: { teardown(fn: () => void): void }, outcome: Outcome, edge: string) {
  const s = setup(tt);
  writeFileSync(join(s.dir, "target"), "same");
  writeFileSync(join(s.dir, "dep"), "D");
  const notify = edge === "notify" ? ["service:dep"] : [];
  const dep = resource(
    "service",
    "dep",
    { content: "D" },
    { require: edge === "require" ? ["file:target"] : [] },
  );
  const { status } = await s.run(catalog([...targetFor(outcome, notify), dep]), {
    noop: outcome === "would-change",
  });
  return `${status["service:dep"]}`;
}

const truthTable: [Outcome, string, string][] = [
  ["unchanged", "unchanged", "unchanged"],
  ["changed", "unchanged", "changed (refreshed)"],
  ["failed", "skipped", "skipped"],
  ["skipped", "skipped", "skipped"],
  ["would-change", "unknown", "unknown"],
];

t.test("the dependant's outcome for each target outcome matches the documented table", async (t) => {
  const rows: string[] = [];
  for (const [outcome] of truthTable) {
    const req = await dependantOutcome(t, outcome, "require");
    const note = await dependantOutcome(t, outcome, "notify");
    rows.push(`| ${outcome} | ${req} | ${note === "changed" ? "changed (refreshed)" : note} |`);
  }
  t.same(
    rows,
    truthTable.map(([o, r, n]) => `| ${o} | ${r} | ${n} |`),
  );
  const doc = readFileSync(new URL("../../../docs/engine.md", import.meta.url), "utf8");
  const table = /<!-- truth-table -->\n([\s\S]*?)\n<!-- \/truth-table -->/.exec(doc)?.[1] ?? "";
  t.same(table.split("\n").slice(2), rows, "docs/engine.md shows this table");
});
