/**
 * The push channel across two real server processes on one PostgreSQL (issue 11), with real
 * daemons split between them: one fleet-wide signal sent to one server reaches every agent, the
 * other server's through LISTEN/NOTIFY, and the count says so; a commit promoted by one server is
 * adopted by the other before its agents are told, so they converge to it from there; a node revoked
 * with `tend server node revoke` loses its stream on the other server at once (the heartbeat here
 * is an hour, so only the NOTIFY can end it).
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
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

t.test(
  "two servers on one PostgreSQL: every agent hears one signal",
  { skip: !pgUrl && noPgReason },
  async (t) => {
    const db = postgresStorage(pgUrl!);
    const dir = mkdtempSync(join(tmpdir(), "tend-push-pg-"));
    const root = join(dir, "target");
    const nodes = ["a-1", "a-2", "b-1", "b-2"];
    const repo = new TestRepo();
    repo.commit(pushRecipes(root, nodes, "v1\n"), "v1");
    const extra = `database: ${db.database}\ndatabase_schema: ${db.schema}\npush:\n  heartbeat: 1h\n`;
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
    const reports = async (node: string) =>
      (await callJson(`${a.url}/api/v1/nodes/${node}/reports`, "GET", undefined, admin)).json as {
        mode: string;
      }[];

    const sent = await callJson(`${a.url}/api/v1/signals`, "POST", { nodes: "*", signal: "noop" }, admin);
    t.match(
      sent.json,
      { signal: "noop", targets: 4, delivered: 4, queued: 0 },
      "sent to A, counted on both servers",
    );
    for (const node of nodes) {
      await until(`${node}'s noop report`, async () =>
        (await reports(node))[0]?.mode === "noop" ? true : undefined,
      );
    }
    t.pass("every agent, on A and on B, ran in noop");

    const v2 = repo.commit(pushRecipes(root, nodes, "v2\n"), "v2");
    const hook = await callJson(`${a.url}/api/v1/hooks/git`, "POST", {}, admin);
    t.equal(hook.json.live, v2, "A promoted the commit (B polls never: poll 0)");
    for (const node of nodes) {
      await until(`${node} on v2`, () =>
        readOrNull(join(root, node, "motd")) === "v2\n" ? true : undefined,
      );
    }
    t.pass("B adopted the commit before telling its agents, which converged to it from B");

    const bee = daemons[2]!;
    const lost = bee.count(/push: stream lost/);
    const revoked = await tendServer(["node", "revoke", "b-1", "--config", a.file]);
    t.match(revoked.stdout, /revoked node b-1/);
    await bee.waitFor(/push: stream lost \(the server ended the stream\)/, lost + 1, 30_000);
    t.pass("revoked through A's database: B ended b-1's stream at once");
    await bee.waitFor(/push: cannot connect \(HTTP 401\)/, 1, 30_000);
    t.pass("and refuses it a new one");
  },
);
