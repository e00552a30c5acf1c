/**
 * The server as a real process: `tend server token create`, then enrol, catalog and report over
 * HTTP on 127.0.0.1; config errors are clear; and a kill -9 during report ingestion on SQLite
 * loses no acknowledged report (TRUST H1).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { openSqlite } from "../../server/storage/sqlite.js";
import { facts } from "../helpers/server-git.js";
import { callJson, serverConfigDir, spawnServer, stop, tendServer } from "../helpers/server-process.js";
import { makeReport } from "../helpers/server-report.js";

const setup = (t: { teardown(fn: () => void): void }) => serverConfigDir(t);
const call = callJson;

t.test("a real server process: tokens, enrol, catalog, report", async (t) => {
  const { config } = setup(t);
  const admin = (await tendServer(["token", "create", "--admin", "--config", config])).stdout.trim();
  t.match(admin, /^tend_adm_[A-Za-z0-9_-]+$/, "the token is printed alone");
  const enrolToken = (
    await tendServer(["token", "create", "--ttl", "10m", "--node", "web-*", "--config", config])
  ).stdout.trim();
  const p = await spawnServer(config);
  t.teardown(() => stop(p));
  const enrol = await call(`${p.url}/api/v1/enroll`, "POST", { token: enrolToken, node: "web-1" });
  t.equal(enrol.status, 200);
  const cred = enrol.json.credential;
  const cat = await call(`${p.url}/api/v1/catalog`, "POST", { facts: facts("web-1") }, cred);
  t.equal(cat.status, 200);
  const report = makeReport("web-1", cat.json.catalog.commit);
  t.equal((await call(`${p.url}/api/v1/reports`, "POST", report, cred)).status, 201);
  const nodes = await call(`${p.url}/api/v1/nodes`, "GET", undefined, admin);
  t.match(nodes.json, [{ name: "web-1", last_report_id: report.id }]);
  t.equal(
    (await call(`${p.url}/api/v1/nodes`, "GET", undefined, cred)).status,
    403,
    "a node credential on an admin route: authenticated, not allowed",
  );
});

t.test("the signing key's fingerprint: in the start log and from `tend server key`", async (t) => {
  const { config } = setup(t);
  const p = await spawnServer(config);
  t.teardown(() => stop(p));
  const seen = async () => {
    for (let i = 0; i < 100 && !/fingerprint/.test(p.stdout()); i++)
      await new Promise((r) => setTimeout(r, 20));
    return p.stdout();
  };
  const line =
    /signing key ([0-9a-f]{16}), fingerprint (sha256:[0-9a-f]{64}) \(agents pin it with: tend agent enroll --server-key \2\)/.exec(
      await seen(),
    );
  t.ok(line, "the start log names the key and how to pin it");
  const printed = (await tendServer(["key", "--config", config])).stdout;
  t.equal(printed, `${line?.[2]}\nkey_id ${line?.[1]}\n`, "`tend server key` prints the same fingerprint");
  t.match((await tendServer(["key", "--pem", "--config", config])).stdout, /^-----BEGIN PUBLIC KEY-----\n/);
});

t.test("configuration mistakes are reported with their place", async (t) => {
  const { dir } = setup(t);
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "listen: 0.0.0.0:7420\n");
  const failure = async () => {
    try {
      await tendServer(["--config", bad]);
      return "";
    } catch (err) {
      return String((err as { stderr?: string }).stderr);
    }
  };
  t.match(await failure(), /not a loopback address/);
  writeFileSync(bad, "data_dir: /tmp/x\nrecipes:\n  repo: /r\n  polll: 5s\n");
  t.match(await failure(), /bad\.yaml:4:3: recipes\.polll: unknown key "polll"; did you mean "poll"\?/);
});

t.test("kill -9 during report ingestion loses no acknowledged report (SQLite)", async (t) => {
  const { config, dir } = setup(t);
  const enrolToken = (await tendServer(["token", "create", "--config", config])).stdout.trim();
  const p = await spawnServer(config);
  const cred = (await call(`${p.url}/api/v1/enroll`, "POST", { token: enrolToken, node: "web-1" })).json
    .credential;
  const acked: string[] = [];
  let stopped = false;
  const worker = async () => {
    while (!stopped) {
      const r = makeReport("web-1", null, { count: 50 });
      try {
        const res = await call(`${p.url}/api/v1/reports`, "POST", r, cred);
        if (res.status === 201) acked.push(r.id);
      } catch {
        return; // the connection died with the server
      }
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  while (acked.length < 200) await new Promise((r) => setTimeout(r, 5));
  p.child.kill("SIGKILL");
  stopped = true;
  await Promise.all(workers);
  await stop(p);
  const storage = await openSqlite(join(dir, "data", "tend.db"));
  t.teardown(() => storage.close());
  let missing = 0;
  for (const id of acked) if (!(await storage.getReport(id))) missing++;
  t.equal(missing, 0, `all ${acked.length} acknowledged reports survived`);
  const Database = (await import("better-sqlite3")).default;
  const db = new Database(join(dir, "data", "tend.db"), { readonly: true });
  t.equal(db.pragma("integrity_check", { simple: true }), "ok");
  db.close();
});
