/**
 * The systemd_unit kind under a real systemd: this file boots a test box and runs itself inside it
 * (TEND_IN_BOX=1), where the kind goes through the shared harness and whole runs go through the
 * engine with the service kind: a unit written and started with one daemon-reload (counted in
 * PID 1's journal), a drop-in's Environment= picked up, drift repaired, a reload owed from an
 * interrupted run made, absent stopping and removing; NeedDaemonReload is "no" after every run.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import t from "tap";
import { runCatalog } from "../../../agent/engine/index.js";
import { fsRepo } from "../../../agent/repo-fs.js";
import { kinds } from "../../../agent/resources/index.js";
import { systemdUnit, UNIT_DIR } from "../../../agent/resources/systemd-unit.js";
import { compile } from "../../../core/compile.js";
import type { CatalogResource, Json } from "../../../core/types.js";
import { bootBox, noBoxes } from "../../boxes/lib/index.js";
import { catalog, resource as catalogResource, sha256, testFacts } from "../../helpers/catalog.js";
import { sampleFacts } from "../../helpers/facts.js";
import { Contents, context, type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const self = "test/agent/resources/systemd-unit.test.ts";

if (process.env.TEND_IN_BOX !== "1") {
  t.test("every service of a unit or of its drop-ins comes after them", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "tend-unit-recipe-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    };
    write("nodes.yaml", '- name: "*"\n  recipes: [app]\n');
    write(
      "app/recipe.yaml",
      `resources:
  - service: app
    ensure: running
  - service: nginx.service
  - systemd_unit: app.service
    content: "[Service]\\nExecStart=/bin/true\\n"
  - systemd_unit: nginx.service.d/limits.conf
    content: "[Service]\\nLimitNOFILE=65536\\n"
`,
    );
    const { catalog: c, problems } = compile(fsRepo(dir), "n", sampleFacts());
    t.same(problems, []);
    const ids = c!.resources.map((r) => r.id);
    t.ok(ids.indexOf("systemd_unit:app.service") < ids.indexOf("service:app"));
    t.ok(ids.indexOf("systemd_unit:nginx.service.d/limits.conf") < ids.indexOf("service:nginx.service"));
    t.same(c!.resources.find((r) => r.id === "service:app")?.require, ["systemd_unit:app.service"]);
  });

  t.test("watch mode watches the unit file or the drop-in", async (t) => {
    t.same(
      systemdUnit.watch!(resource("systemd_unit", "nginx.service.d/limits.conf", { ensure: "present" })),
      {
        paths: ["/etc/systemd/system/nginx.service.d/limits.conf"],
      },
    );
  });

  t.test("systemd_unit under systemd, in a box", { skip: noBoxes }, async (t) => {
    const checkout = resolve(import.meta.dirname, "../../..");
    const box = await bootBox(t, {
      hostname: "unit-1",
      binds: [
        { host: process.execPath, box: "/usr/local/bin/node", readOnly: true },
        { host: checkout, box: "/opt/tend", readOnly: true },
      ],
    });
    const tsx = "/opt/tend/node_modules/tsx/dist/esm/index.mjs";
    const r = await box.exec(["node", "--import", tsx, `/opt/tend/${self}`], {
      env: { TEND_IN_BOX: "1" },
      timeoutMs: 600_000,
    });
    // The inner run's top-level results, one assertion each; its whole output when one failed.
    const results = [...r.stdout.matchAll(/^(not ok|ok) \d+ - (.*?)(?: # time=.*)?$/gm)];
    t.ok(results.length >= 3, "the tests ran inside the box");
    for (const [, status, name] of results) t.equal(status, "ok", name ?? "");
    t.equal(r.code, 0, r.code === 0 ? "inside: all passed" : `inside:\n${r.stdout}\n${r.stderr}`);
  });
} else {
  const stateDir = mkdtempSync(join(tmpdir(), "tend-unit-"));
  const contents = new Contents();
  const sh = (cmd: string) => spawnSync("sh", ["-c", cmd], { encoding: "utf8" }).stdout.trim();
  const unit = (name: string, extra = "") =>
    `[Unit]\nDescription=tend test ${name}${extra}\n[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n`;
  const path = (name: string) => join(UNIT_DIR, name);
  const u = (name: string, params: Record<string, Json>, text?: string) =>
    resource("systemd_unit", name, {
      ensure: "present",
      ...params,
      ...(text ? { content_sha256: contents.add(text) } : {}),
    });
  const base = () => ({ stateDir, contents });

  const cases: KindCase[] = [
    {
      name: "writes a new unit and enables it",
      resource: u("tendtest-a.service", { enabled: true }, unit("a")),
      expect: [
        { property: "ensure", from: "absent", to: "present" },
        { property: "enabled", from: "not-found", to: true },
      ],
      diff: /\+ExecStart=\/bin\/sleep infinity/,
      watch: [path("tendtest-a.service"), UNIT_DIR],
      after: (t) => {
        t.equal(readFileSync(path("tendtest-a.service"), "utf8"), unit("a"));
        t.equal(sh("systemctl is-enabled tendtest-a.service"), "enabled");
      },
    },
    {
      name: "content changed by hand is drift, repaired, with a diff",
      given: () => writeFileSync(path("tendtest-a.service"), unit("a", " (edited)")),
      resource: u("tendtest-a.service", { enabled: true }, unit("a")),
      expect: [{ property: "content", to: `sha256:${sha256(unit("a"))}` }],
      diff: /-Description=tend test a \(edited\)\n\+Description=tend test a\n/,
      watch: [path("tendtest-a.service")],
    },
    {
      name: "disabled by hand, enabled again",
      given: () => sh("systemctl disable --quiet tendtest-a.service"),
      resource: u("tendtest-a.service", { enabled: true }, unit("a")),
      expect: [{ property: "enabled", from: "disabled", to: true }],
    },
    {
      name: "a drop-in is written into the unit's .d directory",
      resource: u("tendtest-a.service.d/env.conf", {}, "[Service]\nEnvironment=A=1\n"),
      expect: [{ property: "ensure", from: "absent", to: "present" }],
      watch: [UNIT_DIR],
      after: (t) => t.ok(existsSync(path("tendtest-a.service.d/env.conf"))),
    },
    {
      name: "a drop-in made absent is removed, and its emptied directory",
      resource: u("tendtest-a.service.d/env.conf", { ensure: "absent" }),
      expect: [{ property: "ensure", from: "present", to: "absent" }],
      watch: [path("tendtest-a.service.d/env.conf")],
      after: (t) => t.notOk(existsSync(path("tendtest-a.service.d"))),
    },
    {
      name: "absent stops, disables and removes a unit",
      given: () => sh("systemctl daemon-reload && systemctl start tendtest-a.service"),
      resource: u("tendtest-a.service", { ensure: "absent" }),
      expect: [{ property: "ensure", from: "present", to: "absent" }],
      watch: [path("tendtest-a.service")],
      after: (t) => {
        t.notOk(existsSync(path("tendtest-a.service")));
        t.notOk(existsSync(path("multi-user.target.wants/tendtest-a.service")), "disabled");
        t.equal(sh("systemctl is-active tendtest-a.service"), "inactive");
      },
    },
  ];

  t.test("the kind through the shared harness", async (t) => runCases(t, systemdUnit, cases, base));

  t.test("refusals: a masked unit, enabled on a drop-in, a present unit without content", async (t) => {
    symlinkSync("/dev/null", path("tendtest-m.service"));
    t.teardown(() => rmSync(path("tendtest-m.service")));
    const ctx = context({ stateDir, contents });
    await t.rejects(systemdUnit.check(u("tendtest-m.service", {}, unit("m")), ctx), {
      code: "TEND_E_SYSTEMD_UNIT",
      message: /masked/,
    });
    await t.rejects(systemdUnit.check(u("tendtest-m.service.d/x.conf", { enabled: true }, "[Unit]\n"), ctx), {
      code: "TEND_E_SYSTEMD_UNIT",
      message: /drop-in is not enabled/,
    });
    await t.rejects(systemdUnit.check(u("tendtest-n.service", {}), ctx), {
      code: "TEND_E_SYSTEMD_UNIT",
      message: /needs its content/,
    });
  });

  /** One engine run of `resources` (in this order), with the daemon-reloads PID 1 logged meanwhile. */
  const runs = async (resources: CatalogResource[], noop = false) => {
    const cursor = sh("journalctl -n0 --show-cursor -q").replace(/^-- cursor: /, "");
    const texts = [...contents.map.values()].map((b) => b.toString("utf8"));
    const report = await runCatalog(catalog(resources, texts), { kinds, facts: testFacts, stateDir, noop });
    sh("journalctl --sync");
    const log = sh(`journalctl -q --after-cursor='${cursor}' _PID=1 -o cat`);
    return {
      status: report.resources.map((r) => `${r.id} ${r.status}${r.error ? `: ${r.error}` : ""}`),
      reloads: log.split("\n").filter((l) => l.startsWith("Reloading finished")).length,
    };
  };
  const show = (prop: string) => sh(`systemctl show -p ${prop} --value tendtest-b.service`);
  const unitB = (extra = "") =>
    catalogResource("systemd_unit", "tendtest-b.service", {
      ensure: "present",
      enabled: true,
      content_sha256: contents.add(unit("b", extra)),
    });
  const dropin = (env: string, params: Record<string, Json> = {}) =>
    catalogResource(
      "systemd_unit",
      "tendtest-b.service.d/env.conf",
      { ensure: "present", content_sha256: contents.add(`[Service]\nEnvironment=${env}\n`), ...params },
      { notify: ["service:tendtest-b"] },
    );
  const service = catalogResource("service", "tendtest-b", { ensure: "running" });

  t.test("a unit written and started with one daemon-reload", async (t) => {
    const r = await runs([unitB(), service]);
    t.same(r.status, ["systemd_unit:tendtest-b.service changed", "service:tendtest-b changed"]);
    t.equal(r.reloads, 1);
    t.equal(show("ActiveState"), "active");
    t.equal(sh("systemctl is-enabled tendtest-b.service"), "enabled");
    t.equal(show("NeedDaemonReload"), "no");
  });

  t.test("the next run changes nothing and reloads nothing", async (t) => {
    const r = await runs([unitB(), service]);
    t.same(r.status, ["systemd_unit:tendtest-b.service unchanged", "service:tendtest-b unchanged"]);
    t.equal(r.reloads, 0);
  });

  t.test("a drop-in changing Environment= is planned, then picked up by the restart", async (t) => {
    const before = show("MainPID");
    const plan = await runs([unitB(), dropin("TEND=2"), service], true);
    t.same(plan.status[1], "systemd_unit:tendtest-b.service.d/env.conf would-change");
    t.equal(plan.reloads, 0, "a plan reloads nothing");
    t.notOk(existsSync(path("tendtest-b.service.d/env.conf")), "and writes nothing");
    const r = await runs([unitB(), dropin("TEND=2"), service]);
    t.same(r.status.slice(1), [
      "systemd_unit:tendtest-b.service.d/env.conf changed",
      "service:tendtest-b changed",
    ]);
    t.equal(r.reloads, 1);
    t.equal(show("Environment"), "TEND=2");
    t.not(show("MainPID"), before, "restarted");
    t.equal(show("NeedDaemonReload"), "no");
  });

  t.test("a unit changed with no service resource after it is reloaded at the end of the run", async (t) => {
    const r = await runs([unitB(" v2"), dropin("TEND=2")]);
    t.same(r.status, [
      "systemd_unit:tendtest-b.service changed",
      "systemd_unit:tendtest-b.service.d/env.conf unchanged",
    ]);
    t.equal(r.reloads, 1);
    t.equal(show("Description"), "tend test b v2", "systemd reads the new unit");
    t.equal(show("NeedDaemonReload"), "no");
  });

  t.test("a reload owed by an interrupted run is made, though the files are in sync", async (t) => {
    writeFileSync(path("tendtest-b.service"), unit("b", " v3")); // written, never reloaded
    t.equal(show("NeedDaemonReload"), "yes");
    const r = await runs([unitB(" v3"), dropin("TEND=2")]);
    t.same(r.status, [
      "systemd_unit:tendtest-b.service unchanged",
      "systemd_unit:tendtest-b.service.d/env.conf unchanged",
    ]);
    t.equal(r.reloads, 1);
    t.equal(show("NeedDaemonReload"), "no");
  });

  t.test("absent stops, disables and removes, with one reload", async (t) => {
    const gone = { ensure: "absent" };
    const r = await runs([
      catalogResource("systemd_unit", "tendtest-b.service.d/env.conf", gone),
      catalogResource("systemd_unit", "tendtest-b.service", gone),
    ]);
    t.same(r.status, [
      "systemd_unit:tendtest-b.service.d/env.conf changed",
      "systemd_unit:tendtest-b.service changed",
    ]);
    t.equal(r.reloads, 1);
    t.notOk(existsSync(path("tendtest-b.service")));
    t.notOk(existsSync(path("tendtest-b.service.d")));
    t.equal(show("ActiveState"), "inactive");
    t.equal(show("LoadState"), "not-found");
    t.equal(show("NeedDaemonReload"), "no");
  });
}
