/**
 * Fleet search end to end: a real server process on 127.0.0.1, nodes enrolled and reporting over
 * HTTP, then `GET /api/v1/nodes?where=` (viewer role) and `tend server nodes --where` (the real
 * CLI on the server's database) give the same nodes; mistakes are a 400 / exit 1 with the column.
 */
import t from "tap";
import { tend } from "../../helpers/cli.js";
import { facts } from "../../helpers/server-git.js";
import { callJson, serverConfigDir, spawnServer, stop, tendServer } from "../../helpers/server-process.js";
import { makeReport } from "../../helpers/server-report.js";

t.test("the API and the CLI answer a search alike", async (t) => {
  const { config } = serverConfigDir(t, "tend-search-");
  const viewer = (
    await tendServer(["token", "create", "--admin", "--role", "viewer", "--config", config])
  ).stdout.trim();
  const enrolToken = (await tendServer(["token", "create", "--uses", "3", "--config", config])).stdout.trim();
  const p = await spawnServer(config);
  t.teardown(() => stop(p));

  const boxes = [
    { name: "web-1", version: "12", failed: false },
    { name: "web-2", version: "11", failed: true },
    { name: "db-1", version: "12", failed: true },
  ];
  for (const b of boxes) {
    const enrol = await callJson(`${p.url}/api/v1/enroll`, "POST", { token: enrolToken, node: b.name });
    t.equal(enrol.status, 200, `${b.name} enrolled`);
    const cred = enrol.json.credential;
    const f = { ...facts(b.name), os: { id: "debian", version_id: b.version, family: "debian" } };
    const cat = await callJson(`${p.url}/api/v1/catalog`, "POST", { facts: f }, cred);
    t.equal(cat.status, 200);
    const report = makeReport(b.name, cat.json.catalog.commit);
    if (b.failed) {
      report.status = "failed";
      const nginx = report.resources.find((r) => r.id === "package:nginx");
      if (nginx) Object.assign(nginx, { status: "failed", error: "apt-get install failed" });
    }
    t.equal((await callJson(`${p.url}/api/v1/reports`, "POST", report, cred)).status, 201);
  }

  const api = async (where: string) => {
    const res = await callJson(
      `${p.url}/api/v1/nodes?where=${encodeURIComponent(where)}`,
      "GET",
      undefined,
      viewer,
    );
    t.equal(res.status, 200, `API: ${where}`);
    return (res.json as { name: string }[]).map((n) => n.name);
  };
  const cli = (where: string) => {
    const r = tend(["server", "nodes", "--where", where, "--json", "--config", config]);
    t.equal(r.code, 0, `CLI: ${where}: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name);
  };
  const cases: [string, string[]][] = [
    ["os.version_id = 12", ["db-1", "web-1"]],
    ["package:nginx failed", ["db-1", "web-2"]],
    ["os.version_id = 12 and package:nginx failed", ["db-1"]],
    ["failing and not name ~ db-*", ["web-2"]],
    ["commit != live", []],
    ["commit = live and not stale", ["db-1", "web-1", "web-2"]],
  ];
  for (const [where, names] of cases) {
    t.same(await api(where), names, `API: ${where}`);
    t.same(cli(where), names, `CLI: ${where}`);
  }

  const human = tend(["server", "nodes", "--where", "package:nginx failed", "--config", config]);
  t.equal(human.code, 0);
  t.match(human.stdout, /^NODE\s+STATUS\s+LAST RUN\s+COMMIT\s+DRIFTED\n/, "a table with a header");
  t.match(human.stdout, /\ndb-1\s+failed\s+\S+\s+[0-9a-f]{7}\s+0\n/);
  t.match(human.stdout, /2 nodes match "package:nginx failed" \(of 3\)\n$/);
  t.match(tend(["server", "nodes", "--config", config]).stdout, /3 nodes\n$/, "no search: every node");

  const bad = await callJson(
    `${p.url}/api/v1/nodes?where=${encodeURIComponent("package:nginx and stale")}`,
    "GET",
    undefined,
    viewer,
  );
  t.equal(bad.status, 400);
  t.equal(bad.json.code, "TEND_E_SEARCH");
  t.match(bad.json.message, /expected a state after "package:nginx" but found "and" at column 15/);
  t.match(bad.json.details, [{ field: "where", column: 15, message: /changed, failed, drifted/ }]);
  t.notMatch(JSON.stringify(bad.json), /\.ts:\d+/, "no stack trace");

  const wrong = tend(["server", "nodes", "--where", "os.version_id 12", "--config", config]);
  t.equal(wrong.code, 1, "a bad search exits 1");
  t.match(wrong.stderr, /^tend: search: expected an operator after "os.version_id" at column 15: compare it/);
  t.match(wrong.stderr, /\n {2}os\.version_id 12\n {16}\^\n$/, "a caret under the mistake");
  t.notMatch(wrong.stderr, /\n\s+at /, "no stack trace");

  t.equal((await callJson(`${p.url}/api/v1/nodes?where=stale`, "GET")).status, 401, "a search needs a login");
});
