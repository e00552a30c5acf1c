/**
 * The service kind's logic against a stand-in systemctl on PATH (this host has no systemd as PID
 * 1): the calls it makes, in order — daemon-reload once and before any start, restart on refresh,
 * a unit that dies after start fails with its journal. test/boxes/service.test.ts drives the same
 * kind against a real systemd.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { service } from "../../../agent/resources/service.js";
import { parseShow, unitName } from "../../../agent/sys/systemd.js";
import { context, type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const root = mkdtempSync(join(tmpdir(), "tend-service-"));
const stateDir = join(root, "state");
const fake = join(root, "bin");
const savedPath = process.env.PATH;
t.teardown(() => {
  process.env.PATH = savedPath;
  rmSync(root, { recursive: true, force: true });
});

// State lives in files: active, enabled, reload (NeedDaemonReload), dies (start fails), calls (a log).
const systemctl = `#!/bin/sh
d=${root}
echo "$*" >> $d/calls
case "$1" in
  show) echo "LoadState=$(cat $d/load)"; echo "ActiveState=$(cat $d/active)"; echo "SubState=x"
        echo "UnitFileState=$(cat $d/enabled)"; echo "NeedDaemonReload=$(cat $d/reload)";;
  daemon-reload) echo no > $d/reload; echo loaded > $d/load;;
  start|restart) if [ -e $d/dies ]; then echo failed > $d/active; else echo active > $d/active; fi;;
  stop) echo inactive > $d/active;;
  enable) echo enabled > $d/enabled;;
  disable) echo disabled > $d/enabled;;
esac
`;
const journalctl = "#!/bin/sh\necho 'app: cannot open /etc/app.conf'\n";
mkdirSync(fake);
writeFileSync(join(fake, "systemctl"), systemctl);
writeFileSync(join(fake, "journalctl"), journalctl);
chmodSync(join(fake, "systemctl"), 0o755);
chmodSync(join(fake, "journalctl"), 0o755);
process.env.PATH = `${fake}:${savedPath}`;

const given = (s: { load?: string; active: string; enabled: string; reload?: string; dies?: boolean }) => {
  writeFileSync(join(root, "load"), s.load ?? "loaded");
  writeFileSync(join(root, "active"), s.active);
  writeFileSync(join(root, "enabled"), s.enabled);
  writeFileSync(join(root, "reload"), s.reload ?? "no");
  rmSync(join(root, "dies"), { force: true });
  if (s.dies) writeFileSync(join(root, "dies"), "");
  writeFileSync(join(root, "calls"), "");
};
const calls = () =>
  readFileSync(join(root, "calls"), "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith("show"));
const settle = { "service.settle_ms": 300 };

t.test("parses systemctl show and names units", async (t) => {
  t.same(parseShow("ActiveState=active\nExecStart={ path=/bin/x ; argv[]=/bin/x a=b }\n"), {
    ActiveState: "active",
    ExecStart: "{ path=/bin/x ; argv[]=/bin/x a=b }",
  });
  t.equal(unitName("nginx"), "nginx.service");
  t.equal(unitName("fstrim.timer"), "fstrim.timer");
});

const cases: KindCase[] = [
  {
    name: "starts and enables a stopped unit, reloading systemd first when the unit asks",
    given: () => given({ active: "inactive", enabled: "disabled", reload: "yes" }),
    resource: resource("service", "app", { ensure: "running", enabled: true }),
    expect: [
      { property: "ensure", from: "inactive", to: "running" },
      { property: "enabled", from: "disabled", to: true },
    ],
    after: (t) => t.same(calls(), ["daemon-reload", "enable -- app.service", "start -- app.service"]),
  },
  {
    name: "stops and disables a running unit without a reload",
    given: () => given({ active: "active", enabled: "enabled" }),
    resource: resource("service", "app.service", { ensure: "stopped", enabled: false }),
    expect: [
      { property: "ensure", from: "running", to: "stopped" },
      { property: "enabled", from: "enabled", to: false },
    ],
    after: (t) => t.same(calls(), ["disable -- app.service", "stop -- app.service"]),
  },
  {
    name: "leaves an unmanaged state alone",
    given: () => given({ active: "inactive", enabled: "static" }),
    resource: resource("service", "app", { enabled: true }),
    expect: [],
  },
];

await runCases(t, service, cases, () => ({ stateDir, run: settle }));

t.test("a unit that dies right after start is a failed resource with its journal", async (t) => {
  given({ active: "inactive", enabled: "enabled", dies: true });
  const r = resource("service", "app", { ensure: "running" });
  const ctx = context({ stateDir, run: { ...settle } });
  const { changes } = await service.check(r, ctx);
  await t.rejects(service.apply(r, changes, ctx), {
    code: "TEND_E_SERVICE_FAILED",
    message: /did not stay running \(failed[\s\S]*cannot open \/etc\/app.conf/,
  });
});

t.test("daemon-reload runs once per run after unit files changed, before the first start", async (t) => {
  given({ active: "inactive", enabled: "enabled" });
  const ctx = context({ stateDir, run: { ...settle, daemonReloadNeeded: true } });
  const a = resource("service", "a", { ensure: "running" });
  const b = resource("service", "b", { ensure: "running" });
  await service.apply(a, (await service.check(a, ctx)).changes, ctx);
  writeFileSync(join(root, "active"), "inactive");
  await service.apply(b, (await service.check(b, ctx)).changes, ctx);
  t.same(calls(), ["daemon-reload", "start -- a.service", "start -- b.service"]);
  t.equal(ctx.run["service.daemon_reloads"], 1);
});

t.test("refresh restarts a running unit and leaves a stopped one stopped", async (t) => {
  given({ active: "active", enabled: "enabled" });
  await service.refresh?.(
    resource("service", "app", { ensure: "running" }),
    context({ stateDir, run: { ...settle } }),
  );
  await service.refresh?.(
    resource("service", "off", { ensure: "stopped" }),
    context({ stateDir, run: { ...settle } }),
  );
  t.same(calls(), ["restart -- app.service"]);
});

t.test("a unit systemd does not know is a clear error (but only unknown in a plan)", async (t) => {
  given({ load: "not-found", active: "inactive", enabled: "" });
  const r = resource("service", "ghost", { ensure: "running" });
  await t.rejects(service.check(r, context({ stateDir })), { code: "TEND_E_SERVICE_NOT_FOUND" });
  const plan = await service.check(r, context({ stateDir, noop: true }));
  t.same(plan.changes, [{ property: "ensure", from: "inactive", to: "running" }]);
});
