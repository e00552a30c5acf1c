/**
 * The push channel on a real box (issue 11): a bare Debian trixie box bootstrapped with install.sh,
 * its daemon under systemd holding the stream to a server process on the host. A commit pushed to
 * the server reaches the box at once (its schedule is every 30 minutes); the server restarted, the
 * daemon reconnects and converges on the next signal.
 */
import t from "tap";
import { bootBox, noBoxes } from "../boxes/lib/index.js";
import { buildBundle, fleetServer } from "../helpers/agent-e2e.js";
import { until } from "../helpers/push-daemon.js";
import { TestRepo } from "../helpers/server-git.js";
import { stop } from "../helpers/server-process.js";

const recipes = (motd: string) => ({
  "nodes.yaml": '- name: "*"\n  recipes: [motd]\n',
  "motd/recipe.yaml": `description: motd\nresources:\n  - file: /etc/tend-push\n    content: ${JSON.stringify(motd)}\n`,
});

t.test(
  "a daemon under systemd converges on a signal, and again after the server restarts",
  { skip: noBoxes },
  async (t) => {
    const bundle = buildBundle();
    const repo = new TestRepo();
    t.teardown(() => repo.cleanup());
    repo.commit(recipes("v1\n"), "v1");
    const fleet = await fleetServer(repo.dir, bundle);
    let server = await fleet.start();
    t.teardown(() => stop(server));
    const box = await bootBox(t, { hostname: "push-1" });
    const token = await fleet.token(1);
    const install = await box.exec(
      `curl -fsSL ${fleet.url}/install.sh | sh -s -- --server ${fleet.url} --token ${token}`,
    );
    t.equal(install.code, 0, install.stderr.slice(-2000));
    const content = async () => (await box.exec("cat /etc/tend-push")).stdout;
    const journal = () => box.run("journalctl -u tend-agent.service -o cat --no-pager");
    const connected = async () =>
      (await journal()).split("\n").filter((l) => l.startsWith("push: connected")).length;
    t.equal(await content(), "v1\n", "the first run converged");
    await until("the daemon's stream", async () => ((await connected()) >= 1 ? true : undefined), 60_000);

    repo.commit(recipes("v2\n"), "v2");
    await fleet.post("/api/v1/hooks/git");
    await until("v2 on the box", async () => ((await content()) === "v2\n" ? true : undefined), 60_000);
    t.match(
      await journal(),
      /push: commit signal for commit/,
      "the commit reached it as a signal, not by schedule",
    );

    await stop(server);
    server = await fleet.start();
    await until(
      "the daemon to reconnect",
      async () => ((await connected()) >= 2 ? true : undefined),
      180_000,
    );
    t.match(
      await journal(),
      /push: stream lost \(.*\); next attempt in/,
      "it saw the stream go and came back",
    );
    await box.run("echo drifted > /etc/tend-push");
    await fleet.post("/api/v1/nodes/push-1/run");
    await until("the drift repaired", async () => ((await content()) === "v2\n" ? true : undefined), 60_000);
    t.pass("a run-now signal after the restart converged the box");
  },
);
