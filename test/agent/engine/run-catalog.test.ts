/**
 * The engine with small in-test kinds that manage real files in a temp folder, so every property
 * here (order, failure isolation, verification, budgets, notify, noop, drift) is about the engine
 * alone. The real file and exec kinds go through the engine in test/cli/commands/apply*.test.ts.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { type EngineOptions, runCatalog } from "../../../agent/engine/index.js";
import { exitCode } from "../../../agent/report.js";
import type { Catalog } from "../../../core/types.js";
import { catalog, testFacts as facts, probeKind, resource } from "../../helpers/catalog.js";

function setup(tt: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), "tend-engine-"));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, "state");
  const events: string[] = [];
  const kinds = { file: probeKind("file", dir, events), service: probeKind("service", dir, events) };
  const run = (cat: Catalog, more: Partial<EngineOptions> = {}) =>
    runCatalog(cat, { kinds, facts, stateDir, ...more });
  const statusOf = async (cat: Catalog, more: Partial<EngineOptions> = {}) => {
    const report = await run(cat, more);
    return { report, status: Object.fromEntries(report.resources.map((r) => [r.id, r.status])) };
  };
  return { dir, stateDir, events, kinds, run, statusOf };
}

t.test("resources are checked and applied in catalog order, prefetch once per kind first", async (t) => {
  const s = setup(t);
  const cat = catalog([
    resource("file", "b", { content: "B" }),
    resource("service", "s", { content: "S" }, { require: ["file:b"] }),
    resource("file", "a", { content: "A" }, { require: ["file:b"] }),
  ]);
  const report = await s.run(cat);
  t.same(s.events, [
    "prefetch file file:b,file:a",
    "check file:b",
    "apply file:b",
    "check file:b",
    "prefetch service service:s",
    "check service:s",
    "apply service:s",
    "check service:s",
    "check file:a",
    "apply file:a",
    "check file:a",
  ]);
  t.same(
    report.resources.map((r) => [r.id, r.status]),
    [
      ["file:b", "changed"],
      ["service:s", "changed"],
      ["file:a", "changed"],
    ],
  );
  t.equal(report.resources[0]?.output, "wrote b");
  t.equal(report.status, "changed");
  t.equal(exitCode(report), 2);
});

t.test("a failed resource skips its dependants, transitively; unrelated resources converge", async (t) => {
  const s = setup(t);
  const cat = catalog([
    resource("file", "a", { content: "A", fail: "apply" }),
    resource("file", "b", { content: "B" }, { require: ["file:a"] }),
    resource("file", "c", { content: "C" }, { require: ["file:b"] }),
    resource("file", "d", { content: "D" }),
    resource("service", "x", { content: "X" }, { require: ["file:d"] }),
  ]);
  const { report, status } = await s.statusOf(cat);
  t.same(status, {
    "file:a": "failed",
    "file:b": "skipped",
    "file:c": "skipped",
    "file:d": "changed",
    "service:x": "changed",
  });
  t.equal(report.resources[0]?.error, "disk on fire");
  t.equal(report.resources[1]?.error, "file:a failed");
  t.equal(report.resources[2]?.error, "file:b was skipped");
  t.notOk(existsSync(join(s.dir, "b")), "a skipped resource is never applied");
  t.same(report.summary, {
    total: 5,
    changed: 2,
    drifted: 0,
    failed: 1,
    skipped: 2,
    unchanged: 0,
    unknown: 0,
  });
  t.equal(report.status, "failed");
  t.equal(exitCode(report), 6);
});

t.test("a kind that does not converge fails its resource, naming what still differs", async (t) => {
  const s = setup(t);
  const { report, status } = await s.statusOf(
    catalog([resource("file", "a", { content: "A", fail: "stuck" })]),
  );
  t.same(status, { "file:a": "failed" });
  t.equal(report.resources[0]?.error, "did not converge: ensure still differ after apply");
  t.equal(exitCode(report), 4);
});

t.test("an exception in check is the resource's failure, not the run's", async (t) => {
  const s = setup(t);
  const { status } = await s.statusOf(
    catalog([resource("file", "a", { fail: "check" }), resource("file", "b", { content: "B" })]),
  );
  t.same(status, { "file:a": "failed", "file:b": "changed" });
});

t.test("a resource past its time budget fails and the run goes on", async (t) => {
  const s = setup(t);
  const { report, status } = await s.statusOf(
    catalog([resource("file", "a", { content: "A", fail: "hang" }), resource("file", "b", { content: "B" })]),
    { resourceTimeoutMs: 300 },
  );
  t.same(status, { "file:a": "failed", "file:b": "changed" });
  t.match(report.resources[0]?.error, /^timed out after 0\.3 s/);
});

t.test("a resource whose type has no kind fails; others converge", async (t) => {
  const s = setup(t);
  const { report, status } = await s.statusOf(
    catalog([resource("user", "bob", {}), resource("file", "a", { content: "A" })]),
  );
  t.same(status, { "user:bob": "failed", "file:a": "changed" });
  t.equal(report.resources[0]?.error, 'this agent has no resource kind "user"');
});

t.test("a stopped run skips what it did not reach", async (t) => {
  const s = setup(t);
  const stop = new AbortController();
  stop.abort();
  const { report, status } = await s.statusOf(catalog([resource("file", "a", { content: "A" })]), {
    signal: stop.signal,
  });
  t.same(status, { "file:a": "skipped" });
  t.equal(report.resources[0]?.error, "the run was stopped before this resource");
});

t.test("a second run changes nothing and applies nothing", async (t) => {
  const s = setup(t);
  const cat = catalog([
    resource("file", "a", { content: "A" }, { notify: ["service:s"] }),
    resource("service", "s", { content: "S" }),
  ]);
  t.equal(exitCode(await s.run(cat)), 2);
  s.events.length = 0;
  const again = await s.run(cat);
  t.equal(exitCode(again), 0);
  t.equal(again.status, "unchanged");
  t.same(again.summary, {
    total: 2,
    changed: 0,
    drifted: 0,
    failed: 0,
    skipped: 0,
    unchanged: 2,
    unknown: 0,
  });
  t.same(
    s.events.filter((e) => !e.startsWith("check") && !e.startsWith("prefetch")),
    [],
  );
});

t.test("noop reports would-change with diffs, unknown after a change, and writes nothing", async (t) => {
  const s = setup(t);
  writeFileSync(join(s.dir, "a"), "old");
  writeFileSync(join(s.dir, "c"), "C");
  const before = readdirSync(s.dir).map((f) => [f, statSync(join(s.dir, f)).mtimeMs]);
  const cat = catalog([
    resource("file", "a", { content: "new" }, { notify: ["service:s"] }),
    resource("service", "s", { content: "S" }, { require: ["file:a"] }),
    resource("file", "c", { content: "C" }),
    resource("file", "d", { content: "D" }, { require: ["service:s"] }),
  ]);
  const { report, status } = await s.statusOf(cat, { noop: true });
  t.same(status, {
    "file:a": "would-change",
    "service:s": "unknown",
    "file:c": "unchanged",
    "file:d": "unknown",
  });
  t.same(
    report.summary,
    { total: 4, changed: 1, drifted: 0, failed: 0, skipped: 0, unchanged: 1, unknown: 2 },
    "unknown outcomes are counted",
  );
  const a = report.resources[0]!;
  t.same(a.changes, [{ property: "content", from: "old", to: "new" }]);
  t.equal(a.diff, "-old\n+new\n");
  t.same(report.resources[1]?.changes.at(-1), { property: "refresh", from: null, to: ["file:a"] });
  t.equal(report.mode, "noop");
  t.equal(exitCode(report), 2);
  t.notOk(
    s.events.some((e) => e.startsWith("apply") || e.startsWith("refresh")),
    "nothing applied or refreshed",
  );
  t.same(
    readdirSync(s.dir).map((f) => [f, statSync(join(s.dir, f)).mtimeMs]),
    before,
    "no file created or touched",
  );
  t.notOk(existsSync(s.stateDir), "the state dir is not even created");
});

t.test("in noop, a check that fails after a would-change is unknown, not failed", async (t) => {
  const s = setup(t);
  const { status } = await s.statusOf(
    catalog([
      resource("file", "a", { content: "A" }),
      resource("service", "s", { fail: "check" }, { require: ["file:a"] }),
    ]),
    { noop: true },
  );
  t.same(status, { "file:a": "would-change", "service:s": "unknown" });
});

t.test("drift versus deploy: a repaired resource whose desired state was in force had drifted", async (t) => {
  const s = setup(t);
  const v1 = catalog([resource("file", "a", { content: "one" }), resource("file", "b", { content: "B" })]);
  const first = await s.run(v1);
  t.same(
    first.resources.map((r) => r.drifted),
    [false, false],
    "a first apply is a deploy",
  );
  const statePath = join(s.stateDir, "state.json");
  const written = statSync(statePath);

  const quiet = await s.run(v1);
  t.equal(quiet.summary.changed, 0);
  t.equal(
    statSync(statePath).mtimeMs,
    written.mtimeMs,
    "a run that changes nothing does not rewrite the state",
  );

  writeFileSync(join(s.dir, "a"), "edited by hand");
  const repaired = await s.run(v1);
  t.same(
    repaired.resources.map((r) => [r.status, r.drifted]),
    [
      ["changed", true],
      ["unchanged", false],
    ],
  );
  t.equal(repaired.summary.drifted, 1);

  const v2 = catalog([resource("file", "a", { content: "two" }), resource("file", "b", { content: "B" })]);
  const deployed = await s.run(v2);
  t.same(
    deployed.resources.map((r) => [r.status, r.drifted]),
    [
      ["changed", false],
      ["unchanged", false],
    ],
    "a new desired state is a deploy",
  );

  // A failed deploy leaves the old desired state as the one in force; ids gone from the catalog
  // are forgotten.
  const v3 = catalog([resource("file", "a", { content: "three", fail: "apply" })]);
  t.equal((await s.run(v3)).status, "failed");
  const enforced = JSON.parse(readFileSync(statePath, "utf8")).enforced;
  t.same(enforced, { "file:a": v2.resources[0]!.digest.slice(0, 32) });
});
