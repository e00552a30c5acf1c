/** The group kind against the real /etc/group, with `tendtest` names removed afterwards. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { group } from "../../../agent/resources/group.js";
import { Accounts } from "../../../agent/sys/accounts.js";
import { context, type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const root = mkdtempSync(join(tmpdir(), "tend-group-"));
const stateDir = join(root, "state");
const names = ["tendtestg1", "tendtestg2", "tendtestg3", "tendtestg4"];
const cleanup = () => {
  for (const n of names) spawnSync("groupdel", [n]);
};
cleanup();
t.teardown(() => {
  cleanup();
  rmSync(root, { recursive: true, force: true });
});
const gidOf = (name: string) => new Accounts().group(name)?.gid;

const cases: KindCase[] = [
  {
    name: "creates a group with its gid",
    resource: resource("group", "tendtestg1", { ensure: "present", gid: 59901 }),
    expect: [{ property: "ensure", from: "absent", to: "present" }],
    watch: ["/etc/group"],
    after: (t) => t.equal(gidOf("tendtestg1"), 59901),
  },
  {
    name: "changes a group's gid",
    given: () => spawnSync("groupadd", ["-g", "59902", "tendtestg2"]),
    resource: resource("group", "tendtestg2", { ensure: "present", gid: 59903 }),
    expect: [{ property: "gid", from: 59902, to: 59903 }],
    watch: ["/etc/group"],
    after: (t) => t.equal(gidOf("tendtestg2"), 59903),
  },
  {
    name: "removes a group",
    given: () => spawnSync("groupadd", ["tendtestg3"]),
    resource: resource("group", "tendtestg3", { ensure: "absent" }),
    expect: [{ property: "ensure", from: "present", to: "absent" }],
    watch: ["/etc/group"],
    after: (t) => t.equal(gidOf("tendtestg3"), undefined),
  },
  {
    name: "creates a system group below 1000",
    resource: resource("group", "tendtestg4", { ensure: "present", system: true }),
    expect: [{ property: "ensure" }],
    after: (t) => t.ok((gidOf("tendtestg4") ?? 1000) < 1000),
  },
];

await runCases(t, group, cases, () => ({ stateDir }));

t.test("a failing groupadd is a coded error with its message", async (t) => {
  const r = resource("group", "tendtest bad name", { ensure: "present" });
  await t.rejects(
    group.apply(r, [{ property: "ensure", from: "absent", to: "present" }], context({ stateDir })),
    {
      code: "TEND_E_COMMAND_FAILED",
      message: /groupadd/,
    },
  );
});
