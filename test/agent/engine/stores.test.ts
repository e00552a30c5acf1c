/**
 * The enforced digests and the notify journal are the engine's options: passed in, the engine
 * reads and updates them and keeps nothing of its own in state_dir (the defaults are the files
 * there, which run-catalog.test.ts and notify.test.ts cover).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { type PendingNotifications, runCatalog } from "../../../agent/engine/index.js";
import { type Enforced, shortDigest } from "../../../agent/store/enforced-digests.js";
import { catalog, testFacts as facts, probeKind, resource } from "../../helpers/catalog.js";

/** A journal in memory, recording what the engine asked of it. */
function memoryJournal(pending: [string, string[]][] = []) {
  const calls: string[] = [];
  const journal: PendingNotifications = {
    pending: new Map(pending),
    async add(targets, from) {
      calls.push(`add [${targets.join(",")}] from ${from}`);
    },
    async done(target) {
      calls.push(`done ${target}`);
    },
    async compact() {
      calls.push("compact");
    },
    async close() {
      calls.push("close");
    },
  };
  return { journal, calls };
}

function setup(tt: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), "tend-engine-stores-"));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const events: string[] = [];
  const kinds = { file: probeKind("file", dir, events), service: probeKind("service", dir, events) };
  return { dir, stateDir: join(dir, "state"), kinds };
}

t.test("injected enforced digests decide drift, and receive what the run enforced", async (t) => {
  const s = setup(t);
  const a = resource("file", "a", { content: "A" });
  const b = resource("file", "b", { content: "B" });
  const saved: Enforced[] = [];
  const enforced = {
    load: async (): Promise<Enforced> => new Map([[a.id, shortDigest(a.digest)]]),
    save: async (next: Enforced) => {
      saved.push(next);
    },
  };
  const { journal, calls } = memoryJournal();
  const report = await runCatalog(catalog([a, b]), {
    kinds: s.kinds,
    facts,
    stateDir: s.stateDir,
    enforced,
    journal,
  });
  t.same(
    report.resources.map((r) => [r.id, r.status, r.drifted]),
    [
      ["file:a", "changed", true],
      ["file:b", "changed", false],
    ],
    "a resource whose digest was in force had drifted; a new one is a deploy",
  );
  t.same(saved, [
    new Map([
      [a.id, shortDigest(a.digest)],
      [b.id, shortDigest(b.digest)],
    ]),
  ]);
  t.same(calls, ["add [] from file:a", "add [] from file:b", "compact"]);
  t.same(readdirSync(s.stateDir), [], "nothing of the engine's own in state_dir");
});

t.test("an injected journal's pending refresh is delivered and marked done; a plan closes it", async (t) => {
  const s = setup(t);
  const svc = resource("service", "s", { content: "S" });
  const cat = catalog([svc]);
  const unchanged = { load: async (): Promise<Enforced> => new Map(), save: async () => {} };

  const plan = memoryJournal([[svc.id, ["file:gone"]]]);
  const planned = await runCatalog(cat, {
    kinds: s.kinds,
    facts,
    stateDir: s.stateDir,
    noop: true,
    enforced: unchanged,
    journal: plan.journal,
  });
  t.same(planned.resources[0]?.changes.at(-1), { property: "refresh", from: null, to: ["file:gone"] });
  t.same(
    plan.calls,
    ["add [] from service:s", "close"],
    "a plan's journal is read-only: closed, never compacted",
  );
  t.notOk(existsSync(s.stateDir), "a plan creates no state_dir");

  const apply = memoryJournal([[svc.id, ["file:gone"]]]);
  await runCatalog(cat, {
    kinds: s.kinds,
    facts,
    stateDir: s.stateDir,
    enforced: unchanged,
    journal: apply.journal,
  });
  t.same(apply.calls, ["add [] from service:s", "done service:s", "compact"]);
});
