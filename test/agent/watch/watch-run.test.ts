/**
 * A watch run against a real server on 127.0.0.1: it repairs from the cached catalog with the
 * facts the last full run kept (state_dir/facts.json; gathered again only when there are none),
 * and its report reaches the server as any run's. As the daemon starts it (`--resource -`, a real
 * process): the ids come on standard input once the burst is over; none, and it exits at once,
 * without the lock or a report.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { agentRun } from "../../../agent/run.js";
import { FACTS_FILE, keepFacts, keptFacts, runFacts } from "../../../agent/store/kept-facts.js";
import { main } from "../../../cli/commands/agent.js";
import type { Facts } from "../../../core/types.js";
import { startAgentEnv, testFacts } from "../../helpers/agent-env.js";
import { repoRoot } from "../../helpers/cli.js";

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

t.test("which facts a run works with", async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), "tend-kept-facts-"));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const gathered: Facts = testFacts("gathered");
  let gathers = 0;
  const gather = async () => {
    gathers++;
    return gathered;
  };
  const file = join(stateDir, FACTS_FILE);

  t.same(await runFacts(stateDir, { watch: true, keep: true }, gather), gathered, "none kept: gathered");
  t.equal(gathers, 1);
  t.same(await keptFacts(stateDir), gathered, "and kept");
  t.equal(mode(file), "600");

  const kept: Facts = testFacts("kept");
  await keepFacts(stateDir, kept);
  t.same(
    await runFacts(stateDir, { watch: true, keep: true }, gather),
    kept,
    "a watch run takes the kept ones",
  );
  t.equal(gathers, 1, "without gathering");

  t.same(await runFacts(stateDir, { watch: false, keep: false }, gather), gathered, "a plan gathers");
  t.same(await keptFacts(stateDir), kept, "and keeps nothing");
  t.same(await runFacts(stateDir, { watch: false, keep: true }, gather), gathered, "a full run gathers");
  t.same(await keptFacts(stateDir), gathered, "and keeps them for the watch runs after it");

  for (const [what, text] of [
    ["not JSON", "{"],
    ["not facts", JSON.stringify({ hostname: 7 })],
  ]) {
    writeFileSync(file, text!);
    gathers = 0;
    t.same(await runFacts(stateDir, { watch: true, keep: true }, gather), gathered, `${what}: gathered`);
    t.equal(gathers, 1);
    t.same(await keptFacts(stateDir), gathered, `${what}: replaced`);
  }
});

t.test("a watch run repairs with the kept facts and reports like any run", async (t) => {
  const env = await startAgentEnv("watch-run-1");
  t.teardown(() => env.close());
  const enrol = ["enroll", "--server", env.url, "--token", await env.server.enrollToken()];
  t.equal(
    await main([...enrol, "--node", env.node, "--config", env.configFile, "--state-dir", env.stateDir]),
    0,
  );
  const config = env.config({ watch: true });
  const http = { attempts: 1 };

  // The full run gathers this machine's facts (nothing injected) and keeps them.
  const full = await agentRun(config, { http });
  t.equal(full.report.status, "changed");
  const kept = await keptFacts(env.stateDir);
  t.ok(kept, "the full run kept its facts");

  const motd = join(env.target, "motd");
  writeFileSync(motd, "edited by hand\n");
  const { report, flush } = await agentRun(config, { http, trigger: "watch", only: [`file:${motd}`] });
  t.equal(readFileSync(motd, "utf8"), "hello from tend\n", "repaired");
  t.equal(report.trigger, "watch");
  t.equal(report.status, "changed");
  t.equal(report.catalog_source, "cache");
  t.same(
    report.resources.map((r) => [r.id, r.status, r.drifted]),
    [[`file:${motd}`, "changed", true]],
    "only the resource that changed, as drift",
  );
  t.same(flush, { sent: 1, rejected: 0, left: 0 });
  t.match(
    await env.admin(`/api/v1/reports/${report.id}`),
    { trigger: "watch", status: "changed" },
    "the server has it",
  );
  t.same(await keptFacts(env.stateDir), kept, "the kept facts are left as they were");

  // Without kept facts a watch run gathers them, and still repairs.
  rmSync(join(env.stateDir, FACTS_FILE));
  writeFileSync(motd, "edited again\n");
  const again = await agentRun(config, { http, trigger: "watch", only: [`file:${motd}`] });
  t.equal(again.report.status, "changed");
  t.equal(readFileSync(motd, "utf8"), "hello from tend\n");
  t.ok(existsSync(join(env.stateDir, FACTS_FILE)), "and keeps them");
});

/** `tend agent run ARGS` as a real process (tsx), `input` on its standard input. */
function tendRun(
  args: string[],
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", `${repoRoot}cli/main.ts`, "agent", "run", ...args],
    {
      cwd: repoRoot,
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdin.end(input);
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

t.test("--resource -: the ids come on standard input, as the daemon hands them over", async (t) => {
  const env = await startAgentEnv("watch-stdin-1");
  t.teardown(() => env.close());
  const enrol = ["enroll", "--server", env.url, "--token", await env.server.enrollToken()];
  t.equal(
    await main([...enrol, "--node", env.node, "--config", env.configFile, "--state-dir", env.stateDir]),
    0,
  );
  await agentRun(env.config(), { http: { attempts: 1 } });
  const motd = join(env.target, "motd");
  const args = ["--log-line", "--config", env.configFile, "--trigger", "watch", "--resource", "-"];

  writeFileSync(motd, "edited by hand\n");
  const r = await tendRun(args, `file:${motd}\n`);
  t.equal(r.code, 2, `changes: exit 2 ${r.stderr}`);
  t.match(r.stdout, /^run \S+ status=changed changed=1 drifted=1 .* trigger=watch\n$/);
  t.equal(readFileSync(motd, "utf8"), "hello from tend\n", "repaired");

  const before = (await env.reportsOf()).length;
  const none = await tendRun(args, "");
  t.equal(none.code, 0, "no ids: exit 0");
  t.equal(none.stdout, "", "nothing said");
  t.equal((await env.reportsOf()).length, before, "no report");
  t.notOk(existsSync(join(env.stateDir, "lock")), "no lock left");
});
