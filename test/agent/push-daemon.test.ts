/**
 * The push channel from the agent's side, with real daemons against a real server process on
 * 127.0.0.1 (issue 11): "run now", "run now in noop" and "a new commit" each start a run; a new
 * commit that leaves the node's catalog unchanged costs one 304 and no run; a signal during a run
 * queues exactly one more run; with the server killed the schedule still converges, and the daemon
 * reconnects (with backoff) when the server is back.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { pushRecipes, pushServerConfig, readOrNull, startDaemon, until } from "../helpers/push-daemon.js";
import { TestRepo } from "../helpers/server-git.js";
import { callJson, type ServerProcess, spawnServer, stop, tendServer } from "../helpers/server-process.js";

interface Summary {
  id: string;
  mode: string;
  status: string;
  commit: string | null;
}

async function setup(
  t: { teardown(fn: () => unknown): void },
  nodes: string[],
  slow: string[] = [],
  serverExtra = "",
) {
  const dir = mkdtempSync(join(tmpdir(), "tend-push-agent-"));
  const root = join(dir, "target");
  const repo = new TestRepo();
  repo.commit(pushRecipes(root, nodes, "v1\n", slow), "v1");
  const server = await pushServerConfig(dir, repo.dir, serverExtra);
  const admin = (await tendServer(["token", "create", "--admin", "--config", server.file])).stdout.trim();
  const proc = { current: await spawnServer(server.file) };
  t.teardown(async () => {
    await stop(proc.current);
    repo.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const api = async (method: "GET" | "POST", path: string, body?: unknown) => {
    const r = await callJson(`${server.url}${path}`, method, body, admin);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  };
  const reports = async (node: string) => (await api("GET", `/api/v1/nodes/${node}/reports`)) as Summary[];
  return { dir, root, repo, server, proc, api, reports };
}

t.test(
  "a daemon runs when signalled: run, noop, a new commit; an unchanged catalog costs one 304",
  async (t) => {
    const { root, repo, server, api, reports } = await setup(t, ["d-1"]);
    const d = await startDaemon({ server: server.url, serverConfig: server.file, node: "d-1" });
    t.teardown(() => d.stop());
    await d.waitFor(/push: connected/);
    const motd = join(root, "d-1", "motd");
    t.equal(readOrNull(motd), null, "nothing ran yet (the schedule is once a year)");

    await api("POST", "/api/v1/nodes/d-1/run", {});
    await d.waitFor(/^run \S+ status=changed/);
    t.equal(readOrNull(motd), "v1\n", "run: converged");
    t.match((await reports("d-1"))[0], { mode: "apply", status: "changed" });

    writeFileSync(motd, "edited\n");
    await api("POST", "/api/v1/nodes/d-1/run", { noop: true });
    await until("the noop report", async () =>
      (await reports("d-1"))[0]?.mode === "noop" ? true : undefined,
    );
    t.equal(readOrNull(motd), "edited\n", "noop: planned and reported, nothing changed");

    const v2 = repo.commit(pushRecipes(root, ["d-1"], "v2\n"), "v2");
    await api("POST", "/api/v1/hooks/git", {});
    await d.waitFor(new RegExp(`push: commit signal for commit ${v2.slice(0, 12)}`));
    await d.waitFor(new RegExp(`^run \\S+ status=changed .*commit=${v2.slice(0, 12)}`));
    t.equal(readOrNull(motd), "v2\n", "a new commit: converged to it");
    await until("its report", async () =>
      (await reports("d-1")).some((r) => r.commit === v2 && r.mode === "apply") ? true : undefined,
    );

    const before = (await reports("d-1")).length;
    const readme = repo.commit({ ...pushRecipes(root, ["d-1"], "v2\n"), "README.md": "docs only\n" }, "docs");
    await api("POST", "/api/v1/hooks/git", {});
    await d.waitFor(new RegExp(`push: commit signal for commit ${readme.slice(0, 12)}`));
    await d.waitFor(/run skipped: the catalog is unchanged/);
    t.equal(
      (await reports("d-1")).length,
      before,
      "a commit that leaves the catalog unchanged: no run, no report",
    );
  },
);

t.test("a signal during a run queues exactly one more run", async (t) => {
  const { server, api, reports } = await setup(t, ["slow-1"], ["slow-1"]);
  const d = await startDaemon({ server: server.url, serverConfig: server.file, node: "slow-1" });
  t.teardown(() => d.stop());
  await d.waitFor(/push: connected/);
  await api("POST", "/api/v1/nodes/slow-1/run", {});
  await d.waitFor(/push: run signal/);
  // The run sleeps 4 s in its exec; these three come during it.
  await new Promise((r) => setTimeout(r, 1_000));
  t.equal(d.count(/^run \S+ status=/), 0, "the first run is still going");
  await api("POST", "/api/v1/nodes/slow-1/run", {});
  await api("POST", "/api/v1/nodes/slow-1/run", { noop: true });
  await api("POST", "/api/v1/signals", { nodes: "*", signal: "run" });
  await d.waitFor(/one more run queued/);
  await d.waitFor(/daemon: starting the queued run$/);
  await d.waitFor(/^run \S+ status=/, 2);
  // Were a third run queued it would start as the second ended; give it the time to show.
  await new Promise((r) => setTimeout(r, 3_000));
  t.equal(d.count(/^run \S+ status=/), 2, "two runs: the signalled one and one more");
  const modes = (await reports("slow-1")).map((r) => r.mode);
  t.same(modes, ["apply", "apply"], "the queued run is the strongest asked for (run, not noop)");
});

t.test(
  "the server killed: the schedule still converges; the daemon reconnects when it is back",
  async (t) => {
    const { root, server, proc, api, reports } = await setup(t, ["s-1"]);
    const d = await startDaemon({
      server: server.url,
      serverConfig: server.file,
      node: "s-1",
      extra: 'schedule: "*/2 * * * * *"\nsplay: 0\n',
    });
    t.teardown(() => d.stop());
    await d.waitFor(/push: connected/);
    const motd = join(root, "s-1", "motd");
    await until("the first scheduled run", () => (readOrNull(motd) === "v1\n" ? true : undefined));

    await stop(proc.current, "SIGKILL");
    await d.waitFor(/push: stream lost \(.*\); next attempt in [0-9.]+s; the schedule runs meanwhile/);
    writeFileSync(motd, "drifted\n");
    await until("the schedule to repair the drift from the cached catalog", () =>
      readOrNull(motd) === "v1\n" ? true : undefined,
    );
    t.pass("with the channel down, the schedule converged (from the cached catalog)");
    await d.waitFor(/push: cannot connect \(.*ECONNREFUSED.*\); next attempt in/);
    t.pass("reconnects are attempted with backoff while the server is away");

    proc.current = (await spawnServer(server.file)) as ServerProcess;
    await d.waitFor(/push: connected/, 2, 120_000);
    t.pass("the daemon reconnected when the server came back");
    await api("POST", "/api/v1/nodes/s-1/run", { noop: true });
    await until("a noop report (the schedule makes none)", async () =>
      (await reports("s-1")).some((r) => r.mode === "noop") ? true : undefined,
    );
    t.pass("and hears signals again");
  },
);

t.test("a stream that goes silent (the server frozen) is taken for dead and opened again", async (t) => {
  const { server, proc } = await setup(t, ["q-1"], [], "push:\n  heartbeat: 1s\n");
  const d = await startDaemon({ server: server.url, serverConfig: server.file, node: "q-1" });
  t.teardown(() => d.stop());
  await d.waitFor(/push: connected/);
  // Stopped, the server keeps the connection (the kernel still answers) but sends nothing.
  proc.current.child.kill("SIGSTOP");
  await d.waitFor(/push: stream lost \(the stream went silent\)/, 1, 60_000);
  t.pass("three heartbeats (here 10 s at least) of silence end the stream");
  proc.current.child.kill("SIGCONT");
  await d.waitFor(/push: connected/, 2, 120_000);
  t.pass("and it is opened again once the server answers");
});
