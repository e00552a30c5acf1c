/**
 * The cron kind: schedules and names checked at validate time (file:line), its automatic edges; in a
 * box (its /etc/cron.d is not the host's), the job file created, repaired after drift, removed; and
 * Debian's real cron running a job tend wrote, as its user, with its environment and a `%`.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { cron, render, SCHEDULE } from "../../../agent/resources/cron.js";
import { BackupStore } from "../../../agent/store/file-backups.js";
import { noBoxes } from "../../boxes/lib/index.js";
import { bootTendBox, boxKind, tendIn } from "../../helpers/box-kind.js";
import { tend } from "../../helpers/cli.js";
import { type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const root = mkdtempSync("/var/tmp/tend-cron-");
const stateDir = join(root, "state");
mkdirSync(stateDir);
t.teardown(() => rmSync(root, { recursive: true, force: true }));

t.test("schedules cron accepts, and what it would ignore or misread", async (t) => {
  const re = new RegExp(SCHEDULE, "u");
  const good = [
    "* * * * *",
    "30 2 * * *",
    "*/5 * * * mon-fri",
    "0 0 1,15 * *",
    "0 8-18/2 * * 1-5",
    "0 0 * JAN,Jul sun",
    "59 23 31 12 7",
    "@reboot",
    "@daily",
    "@annually",
  ];
  const bad = [
    "* * * *",
    "* * * * * *",
    "60 * * * *",
    "* 24 * * *",
    "* * 0 * *",
    "* * * 13 *",
    "* * * * 8",
    "5/10 * * * *",
    "*/0 * * * *",
    "@often",
    " * * * * *",
    "* * * * mon;",
  ];
  for (const s of good) t.ok(re.test(s), `accepts "${s}"`);
  for (const s of bad) t.notOk(re.test(s), `refuses "${s}"`);
});

t.test("in a recipe: schedule and name are checked at validate time; edges", async (t) => {
  const dir = join(root, "recipes");
  mkdirSync(join(dir, "base"), { recursive: true });
  writeFileSync(join(dir, "nodes.yaml"), '- name: "*"\n  recipes: [base]\n');
  const recipe = (name: string, schedule: string) =>
    writeFileSync(
      join(dir, "base", "recipe.yaml"),
      `resources:\n  - cron: ${name}\n    schedule: "${schedule}"\n    user: backup\n    command: /usr/local/bin/backup\n  - user: backup\n  - package: cron\n`,
    );
  recipe("db-backup", "61 * * * *");
  const badSchedule = tend(["validate", dir]);
  t.equal(badSchedule.code, 1);
  t.match(badSchedule.stderr, /base\/recipe\.yaml:3:\d+: resources\[0\]\.schedule: must be a cron schedule/);
  recipe("db.backup", "0 3 * * *");
  const badName = tend(["validate", dir]);
  t.equal(badName.code, 1);
  t.match(badName.stderr, /base\/recipe\.yaml:2:\d+: .*cron ignores \/etc\/cron\.d files with a dot/);
  recipe("db-backup", "0 3 * * *");
  const compiled = tend(["compile", dir, "--node", "n1"]);
  t.equal(compiled.code, 0, compiled.stderr);
  const resources = (JSON.parse(compiled.stdout) as { resources: { id: string; require: string[] }[] })
    .resources;
  t.same(
    resources.map((r) => r.id),
    ["user:backup", "package:cron", "cron:db-backup"],
  );
  t.same(resources[2]?.require, ["user:backup", "package:cron"], "after its user and the cron package");
});

t.test("the file is the job: environment, then schedule, user and command with % escaped", async (t) => {
  const r = resource("cron", "x", {
    ensure: "present",
    user: "root",
    schedule: "@daily",
    command: "date +%F >> /var/log/x",
    environment: { MAILTO: "", GREETING: " padded " },
  });
  t.equal(
    render(r),
    '# Managed by tend (cron:x): changes made here are undone on its next run.\nMAILTO=""\nGREETING=" padded "\n@daily root date +\\%F >> /var/log/x\n',
  );
});

t.test("in a box", { skip: noBoxes }, async (t) => {
  const box = await bootTendBox(t, "cron-1", [stateDir]);
  const job = join(box.root, "etc/cron.d/tendtest-job");
  const params = {
    ensure: "present",
    user: "root",
    schedule: "*/5 * * * *",
    command: "/usr/local/bin/report --daily",
    environment: { MAILTO: "ops@example.com" },
  };
  const cases: KindCase[] = [
    {
      name: "a new job writes its file, root's, 0644",
      resource: resource("cron", "tendtest-job", params),
      expect: [{ property: "ensure", from: "absent", to: "present" }],
      diff: /\+MAILTO=ops@example.com\n\+\*\/5 \* \* \* \* root \/usr\/local\/bin\/report --daily/,
      watch: [job],
      after: (t) => {
        const st = statSync(job);
        t.same([st.mode & 0o7777, st.uid, st.gid], [0o644, 0, 0]);
      },
    },
    {
      name: "a job edited by hand is drift: put back, the edit kept in the backup store",
      given: () => writeFileSync(job, readFileSync(job, "utf8").replace("*/5", "*/1")),
      resource: resource("cron", "tendtest-job", params),
      expect: [{ property: "content" }],
      diff: /-\*\/1 \* \* \* \* root/,
      watch: [job],
      after: (t) => {
        t.match(readFileSync(job, "utf8"), /^\*\/5 \* \* \* \* root/m);
        t.equal(new BackupStore(stateDir).list("/etc/cron.d/tendtest-job").length, 1);
      },
    },
    {
      name: "a group-writable job file (which cron refuses to read) is made 0644 again",
      given: () => chmodSync(job, 0o664),
      resource: resource("cron", "tendtest-job", params),
      expect: [{ property: "content mode", from: "0664", to: "0644" }],
      watch: [job],
    },
    {
      name: "absent removes the job",
      resource: resource("cron", "tendtest-job", { ensure: "absent", user: "root" }),
      expect: [{ property: "ensure", from: "present", to: "absent" }],
      watch: [job],
      after: (t) => t.throws(() => statSync(job)),
    },
  ];
  await runCases(t, boxKind(box, cron), cases, () => ({ stateDir }));

  await t.test("Debian's cron runs a job tend wrote, as its user, with its environment", async (t) => {
    await box.run("apt-get update -q >/dev/null");
    const recipes = "/root/recipes";
    await box.writeFile(`${recipes}/nodes.yaml`, '- name: "*"\n  recipes: [jobs]\n');
    await box.writeFile(
      `${recipes}/jobs/recipe.yaml`,
      [
        "resources:",
        "  - cron: tendtest-tick",
        '    schedule: "* * * * *"',
        "    user: tendtestcron",
        `    command: echo "$GREETING $(id -un) $(date +%Y)" >> /var/tmp/tendtest-cron.out`,
        "    environment: { GREETING: hello from cron }",
        "  - user: tendtestcron",
        "  - package: cron",
        "  - service: cron",
        "    ensure: running",
        "",
      ].join("\n"),
    );
    const first = await tendIn(box, ["apply", recipes, "--node", "cron-1"]);
    t.equal(first.code, 2, `${first.stdout}${first.stderr}`);
    const second = await tendIn(box, ["apply", recipes, "--node", "cron-1"]);
    t.equal(second.code, 0, `the second apply changes nothing: ${second.stdout}`);
    // cron starts jobs on the minute: wait for the next one (up to two, on a busy machine).
    const out = await box.run(
      "for i in $(seq 150); do [ -s /var/tmp/tendtest-cron.out ] && break; sleep 1; done; cat /var/tmp/tendtest-cron.out",
    );
    t.match(out, /^hello from cron tendtestcron \d{4}\n/);
  });
});
