/**
 * Rollouts with real agents (issue 11): `tend agent daemon` processes split between two real server
 * processes on one PostgreSQL, `deploy.on_commit: auto`. A commit starts a rollout by itself; the
 * canary fails its health check, so the rollout halts (seen from both servers) and every other
 * node, asked to run now, keeps the previous file content on disk; the fix (the file the check
 * wants) and a resume take the commit to every node, whichever server holds its stream; the next
 * commit's failing canary is aborted and goes back to the previous content; a preview of that
 * commit has every node plan it (the fleet-wide diff) while changing nothing, and the runs after it
 * apply the nodes' own commit.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import type { RolloutView } from "../../server/rollouts/view.js";
import { loadSigningKey } from "../../server/signing.js";
import {
  type Daemon,
  pushRecipes,
  pushServerConfig,
  readOrNull,
  startDaemon,
  until,
} from "../helpers/push-daemon.js";
import { TestRepo } from "../helpers/server-git.js";
import { callJson, spawnServer, stop, tendServer } from "../helpers/server-process.js";
import { noPgReason, pgUrl, postgresStorage } from "../helpers/server-storage.js";

/** The nodes' recipes, `motd` everywhere, and on `canary` a health check that wants `want` to exist. */
function recipes(root: string, nodes: string[], motd: string, canary?: { node: string; want: string }) {
  const files = pushRecipes(root, nodes, motd);
  if (canary) {
    const key = `r-${canary.node}/recipe.yaml`;
    files[key] =
      `${files[key]}checks:\n  - command: [/usr/bin/test, -e, ${JSON.stringify(canary.want)}]\n    name: healthy\n`;
  }
  return files;
}

t.test(
  "two servers on one PostgreSQL, on_commit auto: halt, the rest keeps its files, fix + resume, abort",
  { skip: !pgUrl && noPgReason },
  async (t) => {
    const db = postgresStorage(pgUrl!);
    const dir = mkdtempSync(join(tmpdir(), "tend-rollout-pg-"));
    const root = join(dir, "target");
    const nodes = ["a-1", "a-2", "b-1", "b-2"];
    const repo = new TestRepo();
    const v1 = repo.commit(recipes(root, nodes, "v1\n"), "v1");
    const extra =
      `database: ${db.database}\ndatabase_schema: ${db.schema}\n` +
      "deploy:\n  on_commit: auto\n  waves: 1\n  timeout: 2m\n";
    const a = await pushServerConfig(dir, repo.dir, extra, "a");
    const b = await pushServerConfig(dir, repo.dir, extra, "b");
    loadSigningKey(join(dir, "a"));
    copyFileSync(join(dir, "a", "signing-key.pem"), join(dir, "b", "signing-key.pem"));
    const admin = (await tendServer(["token", "create", "--admin", "--config", a.file])).stdout.trim();
    const servers = [await spawnServer(a.file), await spawnServer(b.file)];
    const daemons: Daemon[] = [];
    t.teardown(async () => {
      await Promise.all(daemons.map((d) => d.stop()));
      await Promise.all(servers.map((s) => stop(s)));
      await db.cleanup();
      repo.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });
    for (const node of nodes) {
      const server = node.startsWith("a-") ? a : b;
      daemons.push(await startDaemon({ server: server.url, serverConfig: server.file, node }));
    }
    await Promise.all(daemons.map((d) => d.waitFor(/push: connected/)));
    const motd = (node: string) => readOrNull(join(root, node, "motd"));
    const everyone = async (content: string) => {
      for (const node of nodes)
        await until(`${node} at ${content.trim()}`, () => (motd(node) === content ? true : undefined));
    };
    const rollout = async (url: string, id: number) =>
      (await callJson(`${url}/api/v1/rollouts/${id}`, "GET", undefined, admin)).json as RolloutView;
    const newest = async (url: string) =>
      (
        (await callJson(`${url}/api/v1/rollouts`, "GET", undefined, admin)).json as {
          rollouts: RolloutView[];
        }
      ).rollouts[0];
    const lastReport = async (node: string) =>
      (
        (await callJson(`${a.url}/api/v1/nodes/${node}/reports`, "GET", undefined, admin)).json as {
          id: string;
        }[]
      )[0]?.id;

    await callJson(`${a.url}/api/v1/signals`, "POST", { nodes: "*", signal: "run" }, admin);
    await everyone("v1\n");
    t.pass("every node converged v1 (no rollout before the first deploy)");

    const healthy = join(root, "a-1", "healthy");
    const v2 = repo.commit(recipes(root, nodes, "v2\n", { node: "a-1", want: healthy }), "v2");
    t.equal((await callJson(`${a.url}/api/v1/hooks/git`, "POST", {}, admin)).json.live, v2);
    const first = await until("the rollout v2 started by itself", async () => {
      const r = await newest(b.url);
      return r?.commit === v2 ? r : undefined;
    });
    t.match(first, { started_by: "git:on_commit", from: v1 });
    const halted = await until("the halt", async () => {
      const r = await rollout(b.url, first.id);
      return r.state === "halted" ? r : undefined;
    });
    t.match(halted.reason, "the canary failed on a-1", "seen from B, started on A");
    t.match(halted.waves[0]?.nodes[0]?.error, /check healthy failed/);
    t.equal(motd("a-1"), "v2\n", "the canary has v2");

    const before = Object.fromEntries(await Promise.all(nodes.map(async (n) => [n, await lastReport(n)])));
    await callJson(`${b.url}/api/v1/signals`, "POST", { nodes: "*", signal: "run" }, admin);
    // Every node's run is waited for, the canary's too: its report of this run (the check still
    // failing) must not arrive after the resume below, where it would halt the rollout again.
    for (const node of nodes) {
      await until(`${node} ran again`, async () =>
        (await lastReport(node)) !== before[node] ? true : undefined,
      );
      if (node !== "a-1")
        t.equal(motd(node), "v1\n", `${node}, asked to run, keeps v1 on disk while the rollout is halted`);
    }

    writeFileSync(healthy, "fixed by hand\n");
    const resumed = await callJson(`${b.url}/api/v1/rollouts/${first.id}/resume`, "POST", {}, admin);
    t.match(resumed.json, { state: "running" });
    await everyone("v2\n");
    const done = await until("done", async () => {
      const r = await rollout(a.url, first.id);
      return r.state === "done" ? r : undefined;
    });
    t.match(done.counts, { failed: 0, pending: 0, running: 0 });
    t.pass("resumed on B: every node converged v2, those of A and those of B");

    const v3 = repo.commit(
      recipes(root, nodes, "v3\n", { node: "a-1", want: join(root, "a-1", "v3-ready") }),
      "v3",
    );
    await callJson(`${b.url}/api/v1/hooks/git`, "POST", {}, admin);
    const second = await until("the rollout v3 halted", async () => {
      const r = await newest(a.url);
      return r?.commit === v3 && r.state === "halted" ? r : undefined;
    });
    t.equal(motd("a-1"), "v3\n");
    const aborted = await callJson(`${a.url}/api/v1/rollouts/${second.id}/abort`, "POST", {}, admin);
    t.match(aborted.json, { state: "aborted", from: v2 });
    await everyone("v2\n");
    t.pass("aborted: the canary went back to v2, the others never left it");

    const preview = await callJson(`${b.url}/api/v1/rollouts`, "POST", { noop: true }, admin);
    t.match(preview.json, { noop: true, commit: v3, state: "running" });
    const diff = await until("the preview done", async () => {
      const r = await rollout(a.url, preview.json.id);
      return r.state === "done" ? r : undefined;
    });
    t.match(
      diff,
      { counts: { pending: 0, running: 0 }, changes: { nodes: 4 } },
      "every node planned v3: its motd would change",
    );
    t.ok(diff.changes.resources >= 4);
    for (const node of nodes) t.equal(motd(node), "v2\n", `${node} changed nothing`);
    const marks = Object.fromEntries(await Promise.all(nodes.map(async (n) => [n, await lastReport(n)])));
    await callJson(`${a.url}/api/v1/signals`, "POST", { nodes: "*", signal: "run" }, admin);
    for (const node of nodes) {
      await until(`${node} ran again`, async () =>
        (await lastReport(node)) !== marks[node] ? true : undefined,
      );
      t.equal(
        motd(node),
        "v2\n",
        `${node}: a run after the preview applies its own commit, not the preview's`,
      );
    }
  },
);
