/**
 * The service kind against a real systemd, in a test box: a unit written by the file kind is
 * started (after one daemon-reload), enabled, restarted on refresh, repaired after drift, stopped;
 * a unit that dies after start fails with its journal lines.
 */
import { resolve } from "node:path";
import t from "tap";
import { bootBox, noBoxes } from "../../boxes/lib/index.js";

const checkout = resolve(import.meta.dirname, "../../..");
const unitPath = "/etc/systemd/system/tendtest.service";
const unit = (extra = "") =>
  `[Unit]\nDescription=tend test\n[Service]\nExecStart=/bin/sleep infinity\n${extra}[Install]\nWantedBy=multi-user.target\n`;
const fileStep = (content: string) => ({
  type: "file",
  name: unitPath,
  params: { ensure: "file", mode: "0644" },
  content,
});
const svc = (params: Record<string, unknown>, op?: string) => ({
  type: "service",
  name: "tendtest",
  params,
  op,
});

interface Result {
  steps: Array<{
    changes: Array<{ property: string; from: unknown; to: unknown }>;
    error: string | null;
    code: string | null;
  }>;
  reloads: number;
}

t.test("service kind under systemd", { skip: noBoxes }, async (t) => {
  const box = await bootBox(t, {
    hostname: "svc-1",
    binds: [
      { host: process.execPath, box: "/usr/local/bin/node", readOnly: true },
      { host: checkout, box: "/opt/tend", readOnly: true },
    ],
  });
  const drive = async (steps: unknown[]): Promise<Result> => {
    const out = await box.run(
      [
        "node",
        "--import",
        "/opt/tend/node_modules/tsx/dist/esm/index.mjs",
        "/opt/tend/test/agent/resources/service-box-driver.ts",
      ],
      { input: JSON.stringify(steps), env: { TEND_SERVICE_DRIVER: "1" } },
    );
    return JSON.parse(out) as Result;
  };
  const sh = async (cmd: string) => (await box.exec(["sh", "-c", cmd])).stdout.trim();

  await t.test("a new unit file is loaded with one daemon-reload, started and enabled", async (t) => {
    const r = await drive([fileStep(unit()), svc({ ensure: "running", enabled: true })]);
    t.same(
      r.steps.map((s) => s.error),
      [null, null],
    );
    t.match(r.steps[1]?.changes, [
      { property: "ensure", to: "running" },
      { property: "enabled", to: true },
    ]);
    t.equal(r.reloads, 1, "exactly one daemon-reload");
    t.equal(await sh("systemctl is-active tendtest"), "active");
    t.equal(await sh("systemctl is-enabled tendtest"), "enabled");
    t.equal(await sh("systemctl show -p NeedDaemonReload --value tendtest"), "no");
  });

  await t.test("a second run changes nothing and reloads nothing", async (t) => {
    const r = await drive([fileStep(unit()), svc({ ensure: "running", enabled: true })]);
    t.same(
      r.steps.map((s) => s.changes),
      [[], []],
    );
    t.equal(r.reloads, 0);
  });

  await t.test(
    "a changed unit file and a notification restart the service once, after a reload",
    async (t) => {
      const before = await sh("systemctl show -p MainPID --value tendtest");
      const r = await drive([
        fileStep(unit("Environment=V=2\n")),
        svc({ ensure: "running", enabled: true }, "refresh"),
      ]);
      t.same(
        r.steps.map((s) => s.error),
        [null, null],
      );
      t.equal(r.reloads, 1);
      const after = await sh("systemctl show -p MainPID --value tendtest");
      t.not(after, before, "a new main process");
      t.equal(await sh("systemctl show -p Environment --value tendtest"), "V=2");
      t.equal(await sh("systemctl show -p NeedDaemonReload --value tendtest"), "no");
    },
  );

  await t.test("drift is repaired: a stopped service is started again", async (t) => {
    await sh("systemctl stop tendtest");
    const r = await drive([svc({ ensure: "running", enabled: true })]);
    t.match(r.steps[0]?.changes, [{ property: "ensure", from: "inactive", to: "running" }]);
    t.equal(await sh("systemctl is-active tendtest"), "active");
  });

  await t.test("stopped and disabled", async (t) => {
    const r = await drive([svc({ ensure: "stopped", enabled: false })]);
    t.equal(r.steps[0]?.error, null);
    t.equal(await sh("systemctl is-active tendtest"), "inactive");
    t.equal(await sh("systemctl is-enabled tendtest"), "disabled");
  });

  await t.test("a unit that dies right after start is a failed resource with its journal", async (t) => {
    const broken = unit().replace(
      "ExecStart=/bin/sleep infinity",
      "ExecStart=/bin/sh -c 'sleep 1; echo tend-broken-config >&2; exit 1'",
    );
    const r = await drive([fileStep(broken), svc({ ensure: "running" })]);
    t.equal(r.steps[1]?.code, "TEND_E_SERVICE_FAILED");
    t.match(r.steps[1]?.error, /tend-broken-config/);
  });
});
