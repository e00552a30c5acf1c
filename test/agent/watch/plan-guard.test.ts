/**
 * The watch plan is derived from the kinds' `watch()` (no kind named here), leaves out what a
 * recipe opted out; the fight guard makes a resource contested past N repairs in M minutes and
 * forgets it when a full run clears it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { kinds } from "../../../agent/resources/index.js";
import { FightGuard } from "../../../agent/watch/guard.js";
import { loadPlan, savePlan, watchPlan, withNotified } from "../../../agent/watch/plan.js";
import { catalog, resource } from "../../helpers/catalog.js";

t.test("the plan: paths, units and packages as each kind says, minus watch: false", async (t) => {
  const optedOut = { ...resource("file", "/etc/motd", { ensure: "file" }), watch: false as const };
  const cat = catalog([
    resource("package", "nginx", { ensure: "installed" }),
    resource("file", "/etc/nginx/nginx.conf", { ensure: "file" }, { notify: ["service:nginx"] }),
    optedOut,
    resource("service", "nginx", { ensure: "running" }),
    resource("service", "cron", { enabled: true }),
    resource("exec", "make", { argv: ["make"] }),
    resource("package", "hello", { ensure: "installed" }),
  ]);
  const plan = watchPlan(cat, kinds, "/var/lib/dpkg/status");
  t.same(plan.paths, {
    "/var/lib/dpkg/status": ["package:nginx", "package:hello"],
    "/etc/nginx/nginx.conf": ["file:/etc/nginx/nginx.conf"],
  });
  t.same(
    plan.units,
    { "nginx.service": ["service:nginx"] },
    "a service whose state is not managed is not watched",
  );
  t.same(
    [...withNotified(plan, ["file:/etc/nginx/nginx.conf"])],
    ["file:/etc/nginx/nginx.conf", "service:nginx"],
  );

  const dir = mkdtempSync(join(tmpdir(), "tend-plan-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal(await loadPlan(dir), null, "no plan before the first run");
  await savePlan(dir, plan);
  t.same(await loadPlan(dir), plan, "saved and read back");
});

t.test("the fight guard: contested past N repairs within the window, cleared by a full run", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-guard-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const limits = { repairs: 5, windowS: 600 };
  const g = FightGuard.empty();
  const t0 = 1_000_000;
  for (let i = 0; i < 5; i++)
    t.same(g.record(["file:/a"], t0 + i * 1000, limits), [], `repair ${i + 1} is allowed`);
  t.same(
    g.record(["file:/a"], t0 + 5000, limits),
    ["file:/a"],
    "the sixth within 10 minutes makes it contested",
  );
  t.same(g.record(["file:/a"], t0 + 6000, limits), [], "it becomes contested once");
  t.same(g.record(["file:/b"], t0 + 6000, limits), [], "another resource is counted on its own");
  await g.save(dir);
  const again = await FightGuard.load(dir);
  t.same(again.contested(), ["file:/a"], "kept on disk for the daemon");

  const slow = FightGuard.empty();
  for (let i = 0; i < 12; i++)
    t.same(slow.record(["file:/c"], t0 + i * 120_000, limits), [], `repair every 2 min (${i + 1})`);
  t.notOk(slow.isContested("file:/c"), "five repairs per 10 minutes at most is no fight");

  again.clear();
  await again.save(dir);
  t.same((await FightGuard.load(dir)).contested(), [], "a full run clears it (and the file goes)");
});
