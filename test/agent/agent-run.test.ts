import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { agentRun } from "../../agent/run.js";
import { main } from "../../cli/commands/agent.js";
import { agentRecipes, BIG, startAgentEnv, testFacts } from "../helpers/agent-env.js";

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const quiet = { facts: testFacts("agent-1"), http: { attempts: 1 } };

t.test("enrol, run, cache, spool against a real server", async (t) => {
  const env = await startAgentEnv();
  t.teardown(() => env.close());
  const token = await env.server.enrollToken();
  const enrol = [
    "enroll",
    "--server",
    env.url,
    "--token",
    token,
    "--node",
    env.node,
    "--config",
    env.configFile,
    "--state-dir",
    env.stateDir,
  ];

  t.test("enrolment pins the key and keeps secrets private", async (t) => {
    t.equal(await main(enrol), 0);
    t.equal(mode(env.stateDir), "700");
    t.equal(mode(join(env.stateDir, "identity.json")), "600");
    t.equal(mode(env.configFile), "600");
    const id = JSON.parse(readFileSync(join(env.stateDir, "identity.json"), "utf8"));
    t.equal(id.server_key, env.server.deps.key.publicKeyPem);
    t.match(readFileSync(env.configFile, "utf8"), /^node: "agent-1"$/m);
    // Again, with the spent token: nothing to do.
    t.equal(await main(enrol), 0);
    // And with no token at all (install.sh run again on an enrolled box): still nothing to do.
    const noToken = enrol.filter((a, i) => a !== "--token" && enrol[i - 1] !== "--token");
    t.equal(await main(noToken), 0);
  });

  t.test("a run converges, fetching big content by hash, and the server has its report", async (t) => {
    const { report, flush } = await agentRun(env.config(), quiet);
    t.equal(report.status, "changed");
    t.equal(report.catalog_source, "server");
    t.equal(readFileSync(join(env.target, "motd"), "utf8"), "hello from tend\n");
    t.equal(readFileSync(join(env.target, "big.txt"), "utf8"), BIG);
    t.same(flush, { sent: 1, rejected: 0, left: 0 });
    t.equal(mode(join(env.stateDir, "catalog.json")), "600");
    const reports = await env.reportsOf();
    t.same(
      reports.map((r) => r.id),
      [report.id],
    );
  });

  t.test("a second run gets 304 and changes nothing", async (t) => {
    const { report } = await agentRun(env.config(), quiet);
    t.equal(report.status, "unchanged");
    t.equal(report.catalog_source, "server");
  });

  t.test("server unreachable: the cached catalog repairs drift, the report waits in the spool", async (t) => {
    writeFileSync(join(env.target, "motd"), "edited by hand\n");
    const away = env.config({ server: "http://127.0.0.1:9" });
    const { report, notice, flush } = await agentRun(away, quiet);
    t.equal(report.catalog_source, "cache");
    t.match(notice, /cached catalog/);
    t.equal(report.status, "changed");
    t.equal(report.summary.drifted, 1);
    t.equal(readFileSync(join(env.target, "motd"), "utf8"), "hello from tend\n");
    t.equal(flush.left, 1);
    const second = await agentRun(away, quiet);
    t.equal(second.flush.left, 2);
    // Back: the next run sends the spooled ones first, each exactly once.
    const back = await agentRun(env.config(), quiet);
    t.equal(back.flush.sent, 3);
    const ids = (await env.reportsOf()).map((r) => r.id);
    for (const id of [report.id, second.report.id, back.report.id])
      t.equal(ids.filter((x) => x === id).length, 1);
    t.equal(ids.length, 5);
  });

  t.test("`tend agent flush` sends the spool, and says when reports are left", async (t) => {
    const away = env.config({ server: "http://127.0.0.1:9" });
    const { report, flush } = await agentRun(away, quiet);
    t.equal(flush.left, 1);
    const awayFile = join(env.stateDir, "..", "agent-away.yaml");
    writeFileSync(
      awayFile,
      readFileSync(env.configFile, "utf8").replace(/^server: .*$/m, 'server: "http://127.0.0.1:9"'),
    );
    t.equal(await main(["flush", "--config", awayFile]), 3, "server away: 3, the report stays");
    t.equal(await main(["flush", "--config", env.configFile]), 0, "server back: 0, the spool is empty");
    const ids = (await env.reportsOf()).map((r) => r.id);
    t.equal(ids.filter((x) => x === report.id).length, 1);
  });

  t.test("past max_cached_age nothing is applied and the report says stale", async (t) => {
    writeFileSync(join(env.target, "motd"), "edited again\n");
    const away = env.config({ server: "http://127.0.0.1:9", max_cached_age: "1d" });
    const later = Date.now() + 2 * 86_400_000;
    const { report } = await agentRun(away, { ...quiet, now: () => later });
    t.equal(report.status, "stale");
    t.equal(readFileSync(join(env.target, "motd"), "utf8"), "edited again\n");
    await agentRun(env.config(), quiet); // repair and deliver
  });

  t.test("a tampered cache is refused", async (t) => {
    const file = join(env.stateDir, "catalog.json");
    const good = readFileSync(file, "utf8");
    const cache = JSON.parse(good);
    cache.envelope.catalog.resources[0].params.content = "evil\n";
    writeFileSync(file, JSON.stringify(cache));
    await t.rejects(agentRun(env.config({ server: "http://127.0.0.1:9" }), quiet), {
      code: "TEND_E_CATALOG_SIGNATURE",
    });
    writeFileSync(file, good);
  });

  t.test("a catalog with a serial below the last applied is refused", async (t) => {
    const file = join(env.stateDir, "catalog.json");
    const cache = JSON.parse(readFileSync(file, "utf8"));
    cache.applied_serial = cache.envelope.serial + 1000;
    cache.etag = null;
    writeFileSync(file, JSON.stringify(cache));
    await t.rejects(agentRun(env.config(), quiet), { code: "TEND_E_CATALOG_ROLLBACK" });
  });

  t.test("a new commit is a deploy, not drift", async (t) => {
    const file = join(env.stateDir, "catalog.json");
    const cache = JSON.parse(readFileSync(file, "utf8"));
    cache.applied_serial = 0;
    writeFileSync(file, JSON.stringify(cache));
    env.server.repo.commit(agentRecipes(env.target, "second version\n"), "motd v2");
    await env.server.gate.refresh();
    const { report } = await agentRun(env.config(), quiet);
    t.equal(report.status, "changed");
    t.equal(report.summary.drifted, 0);
    t.equal(readFileSync(join(env.target, "motd"), "utf8"), "second version\n");
  });
});
