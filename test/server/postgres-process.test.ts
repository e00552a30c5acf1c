/**
 * Two real `tend server` processes on one PostgreSQL (issue 5, TRUST H2): the commit is ingested
 * once, both serve the same signed catalog with a shared serial, both accept reports, and a report
 * retried to the other server — even at the same moment — is stored once.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { loadSigningKey } from "../../server/signing.js";
import { facts, goodRecipes, TestRepo } from "../helpers/server-git.js";
import { callJson, spawnServer, stop, tendServer } from "../helpers/server-process.js";
import { makeReport } from "../helpers/server-report.js";
import { noPgReason, pgUrl, postgresStorage } from "../helpers/server-storage.js";

const call = callJson;

t.test("two server processes on one PostgreSQL cooperate", { skip: !pgUrl && noPgReason }, async (t) => {
  const db = postgresStorage(pgUrl!);
  const dir = mkdtempSync(join(tmpdir(), "tend-pg2-"));
  const repo = new TestRepo();
  repo.commit(goodRecipes);
  const configs = ["a", "b"].map((name) => {
    const file = join(dir, `${name}.yaml`);
    mkdirSync(join(dir, name), { recursive: true, mode: 0o700 });
    writeFileSync(
      file,
      `listen: 127.0.0.1:0\ndata_dir: ${join(dir, name)}\ndatabase: ${db.database}\n` +
        `database_schema: ${db.schema}\nlog_level: info\n` +
        `recipes:\n  repo: ${repo.dir}\n  branch: main\n  poll: 0\n`,
    );
    return file;
  });
  // Servers behind one load balancer share the signing key, so agents pin one key for all.
  loadSigningKey(join(dir, "a"));
  copyFileSync(join(dir, "a", "signing-key.pem"), join(dir, "b", "signing-key.pem"));
  const [cfgA, cfgB] = configs as [string, string];
  const admin = (await tendServer(["token", "create", "--admin", "--config", cfgA])).stdout.trim();
  const enrol = (await tendServer(["token", "create", "--config", cfgB])).stdout.trim();
  const [a, b] = await Promise.all([spawnServer(cfgA), spawnServer(cfgB)]);
  t.teardown(async () => {
    await Promise.all([stop(a), stop(b)]);
    await db.cleanup();
    repo.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  t.not(a.child.pid, b.child.pid, "two processes");

  const commitsA = await call(`${a.url}/api/v1/commits`, "GET", undefined, admin);
  const commitsB = await call(`${b.url}/api/v1/commits`, "GET", undefined, admin);
  t.equal(commitsA.json.length, 1, "one commit recorded");
  const promoted = [a, b].map((p) => (p.stderr().match(/commit promoted/g) ?? []).length);
  t.same(promoted.sort(), [0, 1], "the commit was judged once, by one of the two servers");
  t.same(commitsB.json, commitsA.json, "both see the same verdict");

  const cred = (await call(`${a.url}/api/v1/enroll`, "POST", { token: enrol, node: "web-1" })).json
    .credential;
  t.type(cred, "string", "enrolled on A with a token made for B's configuration");
  const fromB = await call(`${b.url}/api/v1/catalog`, "POST", { facts: facts("web-1") }, cred);
  const fromA = await call(`${a.url}/api/v1/catalog`, "POST", { facts: facts("web-1") }, cred);
  t.equal(fromB.status, 200, "B serves a node enrolled on A");
  t.equal(fromA.status, 200);
  t.equal(fromA.json.serial, fromB.json.serial, "the serial is shared");
  t.equal(fromA.json.signature, fromB.json.signature, "the same signed envelope from both");
  t.equal(fromA.json.catalog.commit, commitsA.json[0].sha, "the catalog names the live commit");

  const r1 = makeReport("web-1", fromA.json.catalog.commit, { drifted: ["file:/etc/motd"] });
  const r2 = makeReport("web-1", fromA.json.catalog.commit);
  t.equal((await call(`${a.url}/api/v1/reports`, "POST", r1, cred)).status, 201, "A accepts a report");
  t.equal((await call(`${b.url}/api/v1/reports`, "POST", r2, cred)).status, 201, "B accepts a report");
  t.equal(
    (await call(`${b.url}/api/v1/reports`, "POST", r1, cred)).status,
    200,
    "a retry to the other server is stored once",
  );
  const r3 = makeReport("web-1", null, { count: 50 });
  const both = await Promise.all([
    call(`${a.url}/api/v1/reports`, "POST", r3, cred),
    call(`${b.url}/api/v1/reports`, "POST", r3, cred),
  ]);
  t.same(
    both.map((r) => r.status).sort(),
    [200, 201],
    "the same report sent to both at once: one stores it, the other sees the duplicate",
  );
  const listA = await call(`${a.url}/api/v1/nodes/web-1/reports`, "GET", undefined, admin);
  const listB = await call(`${b.url}/api/v1/nodes/web-1/reports`, "GET", undefined, admin);
  t.equal(listA.json.length, 3, "three reports, each stored once");
  t.same(
    listB.json.map((r: { id: string }) => r.id).sort(),
    listA.json.map((r: { id: string }) => r.id).sort(),
  );
  const stored = await call(`${b.url}/api/v1/reports/${r3.id}`, "GET", undefined, admin);
  t.equal(stored.json.resources.length, 50, "with all its resources, once");
});
