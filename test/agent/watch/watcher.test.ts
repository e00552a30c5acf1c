/**
 * The daemon's watcher with real files and a recording `repair`: a burst of writes is one repair,
 * tend's own writes (a run in progress, a lock held by a run by hand) are not repaired again, a
 * contested resource is left alone until the guard is cleared, and a new plan is picked up. The
 * run's process is asked for at a burst's first event (`prepare`), and let go when the burst comes
 * to nothing (`dismiss`).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { FightGuard } from "../../../agent/watch/guard.js";
import { Watcher } from "../../../agent/watch/index.js";
import { savePlan } from "../../../agent/watch/plan.js";

async function setup(tt: { teardown(fn: () => void): void }, debounceMs = 50) {
  const dir = mkdtempSync(join(tmpdir(), "tend-watcher-"));
  const stateDir = join(dir, "state");
  mkdirSync(stateDir, { mode: 0o700 });
  const a = join(dir, "a.conf");
  const b = join(dir, "b.conf");
  writeFileSync(a, "a");
  writeFileSync(b, "b");
  await savePlan(stateDir, {
    format: 1,
    paths: { [a]: ["file:a"], [b]: ["file:b"] },
    units: {},
    notify: { "file:a": ["service:x"] },
  });
  const repairs: string[][] = [];
  /** prepare, repair and dismiss calls, in order. */
  const calls: string[] = [];
  let wake: (() => void) | null = null;
  let accept = true;
  const w = await Watcher.start({
    stateDir,
    log: () => {},
    repair: (ids) => {
      if (!accept) return false;
      calls.push("repair");
      repairs.push(ids.sort());
      wake?.();
      return true;
    },
    prepare: () => calls.push("prepare"),
    dismiss: () => calls.push("dismiss"),
    debounceMs,
    graceMs: 50,
  });
  tt.teardown(() => {
    w.close();
    rmSync(dir, { recursive: true, force: true });
  });
  /** The next repair's ids (tap's timeout fails a test that never gets one). */
  const next = () =>
    new Promise<string[]>((resolve) => {
      const before = repairs.length;
      wake = () => {
        if (repairs.length > before) resolve(repairs[before]!);
      };
    });
  return { dir, stateDir, a, b, w, repairs, calls, next, setAccept: (v: boolean) => (accept = v) };
}

t.test("a burst of writes to two files is one repair of both", async (t) => {
  const s = await setup(t);
  const got = s.next();
  writeFileSync(s.a, "1");
  writeFileSync(s.a, "2");
  writeFileSync(s.b, "3");
  t.same(await got, ["file:a", "file:b"]);
  t.same(s.calls, ["prepare", "repair"], "the run was asked to start up at the first event, once");
  s.w.runEnded();
  await sleep(200);
  t.equal(s.repairs.length, 1, "one run for the burst");
});

t.test("a burst whose resources all became contested meanwhile dismisses the prepared run", async (t) => {
  const s = await setup(t, 1000);
  writeFileSync(s.a, "fighting");
  while (!s.calls.includes("prepare")) await sleep(10);
  // The guard file names file:a contested before the window closes (a watch run by hand, say).
  const g = FightGuard.empty();
  for (let i = 0; i < 6; i++) g.record(["file:a"], Date.now(), { repairs: 5, windowS: 600 });
  await g.save(s.stateDir);
  await s.w.reload();
  while (s.calls.length < 2) await sleep(10);
  t.same(s.repairs, [], "no repair");
  t.same(s.calls, ["prepare", "dismiss"], "the run started for it is let go");
});

t.test("events about a run's own resources are dropped; others wait for the run to end", async (t) => {
  const s = await setup(t);
  s.w.runStarted(new Set(["file:a"]));
  writeFileSync(s.a, "tend's own write");
  writeFileSync(s.b, "someone else's");
  await sleep(200);
  t.same(s.repairs, [], "nothing starts while the run goes on");
  const got = s.next();
  s.w.runEnded();
  t.same(await got, ["file:b"], "b is repaired after it; a's event was the run's own");
});

t.test("a run by hand holding the lock: its writes are its own", async (t) => {
  const s = await setup(t);
  writeFileSync(join(s.stateDir, "lock"), "{}");
  writeFileSync(s.a, "written by tend apply");
  await sleep(200);
  rmSync(join(s.stateDir, "lock"));
  await sleep(200);
  t.same(s.repairs, []);
});

t.test("a contested resource is left alone until the guard is cleared", async (t) => {
  const s = await setup(t);
  const g = FightGuard.empty();
  for (let i = 0; i < 6; i++) g.record(["file:a"], Date.now(), { repairs: 5, windowS: 600 });
  await g.save(s.stateDir);
  await s.w.reload();
  writeFileSync(s.a, "fighting");
  await sleep(200);
  t.same(s.repairs, [], "contested: no repair");
  g.clear();
  await g.save(s.stateDir);
  await s.w.reload();
  const got = s.next();
  writeFileSync(s.a, "after a full run");
  t.same(await got, ["file:a"], "watched again once cleared");
});

t.test("a run that cannot start now is asked again", async (t) => {
  const s = await setup(t);
  s.setAccept(false);
  writeFileSync(s.b, "x");
  await sleep(150);
  const got = s.next();
  s.setAccept(true);
  t.same(await got, ["file:b"]);
});
