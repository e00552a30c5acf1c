/** The user kind against the real /etc/passwd, with `tendtest` names removed afterwards. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { user } from "../../../agent/resources/user.js";
import { Accounts } from "../../../agent/sys/accounts.js";
import { tend } from "../../helpers/cli.js";
import { context, type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const root = mkdtempSync(join(tmpdir(), "tend-user-"));
const stateDir = join(root, "state");
const users = ["tendtestu1", "tendtestu2", "tendtestu3", "tendtestu4", "tendtestu5", "tendtestapp"];
const groups = ["tendtestug", "tendtestug2"];
const cleanup = () => {
  for (const u of users) spawnSync("userdel", ["-r", u], { stdio: "ignore" });
  for (const g of [...users, ...groups]) spawnSync("groupdel", [g], { stdio: "ignore" });
};
cleanup();
spawnSync("groupadd", ["tendtestug"]);
spawnSync("groupadd", ["-g", "59920", "tendtestug2"]);
t.teardown(() => {
  cleanup();
  rmSync(root, { recursive: true, force: true });
});
const get = (name: string) => new Accounts().user(name);
const evil = `"; touch /tmp/tendtest-pwned-${process.pid} #`;

const cases: KindCase[] = [
  {
    name: "creates a user with uid, shell, comment, groups and a home",
    resource: resource("user", "tendtestu1", {
      ensure: "present",
      uid: 59911,
      shell: "/bin/sh",
      comment: evil,
      groups: ["tendtestug"],
      home: "/home/tendtestu1",
      manage_home: true,
    }),
    expect: [{ property: "ensure", from: "absent", to: "present" }],
    watch: ["/etc/passwd", "/etc/group"],
    after: (t) => {
      t.match(get("tendtestu1"), { uid: 59911, shell: "/bin/sh", comment: evil, home: "/home/tendtestu1" });
      t.same(new Accounts().groupsOf("tendtestu1"), ["tendtestug"]);
      t.equal(statSync("/home/tendtestu1").uid, 59911, "the home directory was made and is theirs");
      t.notOk(existsSync(`/tmp/tendtest-pwned-${process.pid}`), "the comment was one literal argument");
    },
  },
  {
    name: "changes shell, comment, primary group and adds a group, leaving other memberships",
    given: () => {
      spawnSync("useradd", ["-s", "/bin/sh", "-G", "tendtestug", "tendtestu2"]);
    },
    resource: resource("user", "tendtestu2", {
      ensure: "present",
      shell: "/bin/bash",
      comment: "Two",
      gid: "tendtestug2",
      groups: ["tendtestug2"],
    }),
    expect: [
      { property: "gid", to: "tendtestug2" },
      { property: "groups", from: ["tendtestug"], to: ["tendtestug", "tendtestug2"] },
      { property: "shell", from: "/bin/sh", to: "/bin/bash" },
      { property: "comment", from: "", to: "Two" },
    ],
    watch: ["/etc/passwd", "/etc/group"],
    after: (t) => {
      t.match(get("tendtestu2"), { shell: "/bin/bash", comment: "Two", gid: 59920 });
      t.same(new Accounts().groupsOf("tendtestu2").sort(), ["tendtestug", "tendtestug2"]);
    },
  },
  {
    name: "removes a user and, with manage_home, their home",
    given: () => spawnSync("useradd", ["-m", "-d", "/home/tendtestu3", "tendtestu3"]),
    resource: resource("user", "tendtestu3", { ensure: "absent", manage_home: true }),
    expect: [{ property: "ensure", from: "present", to: "absent" }],
    after: (t) => {
      t.equal(get("tendtestu3"), undefined);
      t.notOk(existsSync("/home/tendtestu3"));
    },
  },
  {
    name: "a new user whose name is an existing group's gets that group as its primary group",
    given: () => spawnSync("groupadd", ["-g", "59925", "tendtestu5"]),
    resource: resource("user", "tendtestu5", { ensure: "present" }),
    expect: [{ property: "ensure", from: "absent", to: "present" }],
    after: (t) => t.equal(get("tendtestu5")?.gid, 59925),
  },
  {
    name: "creates a system user",
    resource: resource("user", "tendtestu4", { ensure: "present", system: true }),
    expect: [{ property: "ensure" }],
    after: (t) => t.ok((get("tendtestu4")?.uid ?? 1000) < 1000),
  },
];

await runCases(t, user, cases, () => ({ stateDir }));

t.test("a group that does not exist is named", async (t) => {
  spawnSync("useradd", ["tendtestu2"]);
  const r = resource("user", "tendtestu2", { ensure: "present", groups: ["tendtest-nosuchgroup"] });
  await t.rejects(user.check(r, context({ stateDir })), {
    code: "TEND_E_UNKNOWN_OWNER",
    message: /tendtest-nosuchgroup/,
  });
});

t.test("group: app and user: app (no gid) converge in one apply, the group first", async (t) => {
  const dir = join(root, "recipes");
  mkdirSync(join(dir, "app"), { recursive: true });
  writeFileSync(join(dir, "nodes.yaml"), '- name: "*"\n  recipes: [app]\n');
  // The user is declared first: its automatic edge puts the group of its name before it.
  writeFileSync(
    join(dir, "app", "recipe.yaml"),
    "resources:\n  - user: tendtestapp\n    shell: /bin/sh\n  - group: tendtestapp\n    gid: 59926\n",
  );
  const compiled = tend(["compile", dir, "--node", "web-1"]);
  t.equal(compiled.code, 0, compiled.stderr);
  const resources = (JSON.parse(compiled.stdout) as { resources: { id: string; require: string[] }[] })
    .resources;
  t.same(
    resources.map((r) => r.id),
    ["group:tendtestapp", "user:tendtestapp"],
  );
  t.same(resources[1]?.require, ["group:tendtestapp"]);
  const state = join(root, "apply-state");
  const first = tend(["apply", dir, "--node", "web-1", "--state-dir", state]);
  t.equal(first.code, 2, `the first apply changes: ${first.stdout}${first.stderr}`);
  t.equal(get("tendtestapp")?.gid, 59926, "the user's primary group is the declared group");
  const second = tend(["apply", dir, "--node", "web-1", "--state-dir", state]);
  t.equal(second.code, 0, `the second apply changes nothing: ${second.stdout}`);
});
