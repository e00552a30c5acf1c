/**
 * A targeted run (watch mode, EngineOptions.only): it converges the resources asked for and what
 * they notify, reports only those, and leaves the rest of the catalog's recorded state alone.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { runCatalog } from "../../../agent/engine/index.js";
import { STATE_FILE } from "../../../agent/store/enforced-digests.js";
import { JOURNAL_FILE } from "../../../agent/store/notify-journal.js";
import { catalog, testFacts as facts, probeKind, resource } from "../../helpers/catalog.js";

function setup(tt: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), "tend-targeted-"));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, "state");
  const events: string[] = [];
  const kinds = { file: probeKind("file", dir, events), service: probeKind("service", dir, events) };
  return { dir, stateDir, events, kinds };
}

const cat = catalog([
  resource("file", "a", { content: "A" }, { notify: ["service:svc"] }),
  resource("file", "b", { content: "B" }),
  resource("service", "svc", { content: "S" }, { require: ["file:a"] }),
]);

t.test("a targeted run converges what changed and what it notifies, and reports only those", async (t) => {
  const s = setup(t);
  await runCatalog(cat, { kinds: s.kinds, facts, stateDir: s.stateDir });
  writeFileSync(join(s.dir, "a"), "edited by hand");
  writeFileSync(join(s.dir, "b"), "edited too, but not watched");
  s.events.length = 0;
  const report = await runCatalog(cat, {
    kinds: s.kinds,
    facts,
    stateDir: s.stateDir,
    only: new Set(["file:a"]),
    trigger: "watch",
  });
  t.same(
    report.resources.map((r) => [r.id, r.status, r.drifted]),
    [
      ["file:a", "changed", true],
      ["service:svc", "changed", false],
    ],
  );
  t.equal(report.trigger, "watch");
  t.equal(report.summary.total, 2);
  t.equal(readFileSync(join(s.dir, "a"), "utf8"), "A");
  t.equal(readFileSync(join(s.dir, "b"), "utf8"), "edited too, but not watched", "b was not touched");
  t.notOk(s.events.includes("check file:b"), "b was not even checked");
  t.equal(
    readFileSync(join(s.dir, "svc.refreshed"), "utf8"),
    "x\nx\n",
    "the notified service was refreshed (once by the first run, once by the repair)",
  );

  const enforced = JSON.parse(readFileSync(join(s.stateDir, STATE_FILE), "utf8")).enforced;
  t.same(Object.keys(enforced).sort(), ["file:a", "file:b", "service:svc"], "b keeps its enforced digest");
  const full = await runCatalog(cat, { kinds: s.kinds, facts, stateDir: s.stateDir });
  t.same(
    full.resources.filter((r) => r.status !== "unchanged").map((r) => [r.id, r.drifted]),
    [["file:b", true]],
    "the next full run still sees b's edit as drift",
  );
  t.notOk(full.trigger, "a run without a trigger says none");
});

t.test("a targeted run keeps the notifications pending for resources it did not walk", async (t) => {
  const s = setup(t);
  const owed = catalog([
    resource("file", "a", { content: "A" }, { notify: ["service:svc"] }),
    resource("file", "b", { content: "B" }),
    resource("service", "svc", { content: "S", fail: "refresh" }),
  ]);
  // The refresh fails, so service:svc stays owed one in the journal.
  await runCatalog(owed, { kinds: s.kinds, facts, stateDir: s.stateDir });
  t.match(readFileSync(join(s.stateDir, JOURNAL_FILE), "utf8"), /service:svc/);
  writeFileSync(join(s.dir, "b"), "edited");
  const report = await runCatalog(owed, {
    kinds: s.kinds,
    facts,
    stateDir: s.stateDir,
    only: new Set(["file:b"]),
  });
  t.same(
    report.resources.map((r) => r.id),
    ["file:b"],
  );
  t.match(readFileSync(join(s.stateDir, JOURNAL_FILE), "utf8"), /service:svc/, "still pending");
});

t.test("an id the catalog does not have is ignored", async (t) => {
  const s = setup(t);
  const report = await runCatalog(cat, {
    kinds: s.kinds,
    facts,
    stateDir: s.stateDir,
    only: new Set(["file:gone"]),
  });
  t.same(report.resources, []);
  t.equal(report.status, "unchanged");
});
