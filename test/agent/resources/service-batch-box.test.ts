/**
 * The service kind's batched read against a real systemd, in a test box, through `tend apply`: a
 * run with nothing to do reads every service with ONE `systemctl show` (counted by a wrapper in
 * front of the real systemctl on PATH); a run that repairs a stopped service still sees each
 * service as it is (a change ends the batch's use), and the next run is a no-op again.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { noBoxes } from "../../boxes/lib/index.js";
import { bootTendBox, tendIn } from "../../helpers/box-kind.js";

interface Report {
  resources: { id: string; status: string; drifted: boolean }[];
}

t.test("no-op runs read all services at once; a repair still sees each", { skip: noBoxes }, async (t) => {
  const root = mkdtempSync("/var/tmp/tend-svc-batch-");
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const names = ["batch-a", "batch-b", "batch-c"];
  mkdirSync(join(root, "svc"));
  writeFileSync(join(root, "nodes.yaml"), '- name: "*"\n  recipes: [svc]\n');
  const unit = "[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n";
  writeFileSync(
    join(root, "svc", "recipe.yaml"),
    `resources:\n${names
      .map(
        (n) =>
          `  - file: /etc/systemd/system/${n}.service\n    content: ${JSON.stringify(unit)}\n  - service: ${n}\n    ensure: running\n    enabled: true\n`,
      )
      .join("")}`,
  );
  const box = await bootTendBox(t, "svc-batch", [root]);
  const log = "/run/systemctl-calls";
  await box.writeFile(
    "/usr/local/sbin/systemctl",
    `#!/bin/sh\necho "$*" >> ${log}\nexec /usr/bin/systemctl "$@"\n`,
    { mode: "0755" },
  );
  const apply = async (code: number) => {
    await box.run(`rm -f ${log}`);
    const out = await tendIn(box, ["apply", root, "--json"]);
    t.equal(out.code, code, out.stderr);
    const calls = (await box.exec(`cat ${log}`)).stdout.split("\n").filter(Boolean);
    return { report: JSON.parse(out.stdout) as Report, shows: calls.filter((c) => c.startsWith("show ")) };
  };
  await apply(2);
  t.equal(await box.run(`systemctl is-active ${names.join(" ")}`), "active\nactive\nactive\n");

  const noop = await apply(0);
  t.same(
    noop.shows,
    [
      "show --property=LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload -- batch-a.service batch-b.service batch-c.service",
    ],
    "one systemctl show for every service",
  );

  await box.run("systemctl stop batch-b");
  const repair = await apply(2);
  const status = Object.fromEntries(repair.report.resources.map((r) => [r.id, [r.status, r.drifted]]));
  t.same(
    [status["service:batch-a"], status["service:batch-b"], status["service:batch-c"]],
    [
      ["unchanged", false],
      ["changed", true],
      ["unchanged", false],
    ],
    "the stopped one is repaired (drift); the others are seen as they are",
  );
  t.ok(repair.shows.length > 1, "after the change, services are read on their own");
  t.equal(await box.run(`systemctl is-active ${names.join(" ")}`), "active\nactive\nactive\n");
  t.equal((await apply(0)).shows.length, 1, "and the next run is a no-op with one read again");
});
