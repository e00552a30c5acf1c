/**
 * The daemon in watch mode as a real process against a real server on 127.0.0.1 (no box, no
 * systemd): a hand edit of a watched file is repaired by the run the daemon started at the edit's
 * event and handed the id when the burst was over, and its report reaches the server as a watch
 * run's. A burst of edits to two files is one run. (test/e2e/watch-box.test.ts does it in a box.)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { agentRun } from "../../../agent/run.js";
import { main } from "../../../cli/commands/agent.js";
import { startAgentEnv } from "../../helpers/agent-env.js";
import { repoRoot } from "../../helpers/cli.js";

interface Report {
  id: string;
  trigger?: string;
  resources: { id: string; status: string; drifted: boolean }[];
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 1200; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`gave up waiting for ${what}`);
}

t.test("a hand edit is repaired by the run started at its event", async (t) => {
  const env = await startAgentEnv("daemon-watch-1");
  t.teardown(() => env.close());
  const enrol = ["enroll", "--server", env.url, "--token", await env.server.enrollToken()];
  t.equal(
    await main([...enrol, "--node", env.node, "--config", env.configFile, "--state-dir", env.stateDir]),
    0,
  );
  // No scheduled run and no push channel during the test: every run below is the watcher's.
  appendFileSync(env.configFile, 'watch: true\nschedule: "0 0 1 1 *"\nsplay: 0\npush: false\n');
  // The full run writes the plan the daemon watches.
  t.equal((await agentRun(env.config({ watch: true }), { http: { attempts: 1 } })).report.status, "changed");

  let out = "";
  const daemon: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", `${repoRoot}cli/main.ts`, "agent", "daemon", "--config", env.configFile],
    { cwd: repoRoot, env: { ...process.env, TEND_RUN_SCOPE: "0" }, stdio: ["ignore", "pipe", "inherit"] },
  );
  daemon.stdout!.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => daemon.once("exit", resolve));
  t.teardown(() => {
    daemon.kill("SIGKILL");
  });
  await until("the daemon to watch", () => (/watch: \d+ resource\(s\)/.test(out) ? true : undefined));

  const watchReports = async (): Promise<Report[]> => {
    const list = (await env.admin(`/api/v1/nodes/${env.node}/reports?limit=500`)) as { id: string }[];
    const full = await Promise.all(list.map((r) => env.admin(`/api/v1/reports/${r.id}`) as Promise<Report>));
    return full.filter((r) => r.trigger === "watch");
  };

  const motd = join(env.target, "motd");
  const big = join(env.target, "big.txt");
  const bigText = readFileSync(big, "utf8");
  writeFileSync(motd, "edited by hand\n");
  writeFileSync(big, "edited too\n");
  await until("both repaired", () =>
    readFileSync(motd, "utf8") === "hello from tend\n" && readFileSync(big, "utf8") === bigText
      ? true
      : undefined,
  );
  const [report] = await until("the watch run's report", async () => {
    const r = await watchReports();
    return r.length > 0 ? r : undefined;
  });
  t.same(
    report!.resources.map((r) => [r.id, r.status, r.drifted]).sort(),
    [
      [`file:${big}`, "changed", true],
      [`file:${motd}`, "changed", true],
    ],
    "one run for the burst, both as drift",
  );
  const line = await until("the run's line in the daemon's log", () =>
    / status=changed changed=2 drifted=2 .* trigger=watch/.exec(out) ? true : undefined,
  );
  t.ok(line, "the daemon relays the run's line");
  daemon.kill("SIGTERM");
  t.equal(await exited, 0, "the daemon stops cleanly");
  t.equal((await watchReports()).length, 1, "and no other watch run happened");
});
