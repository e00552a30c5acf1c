/**
 * Rollouts on real boxes (issue 11): two bare Debian trixie boxes bootstrapped with install.sh,
 * their daemons under systemd (schedule: every 30 minutes) holding streams to a server process on
 * the host with `deploy.on_commit: auto`. A healthy commit reaches both by itself (canary, then the
 * other box; the time from the git push to both converged is printed). A commit whose health check
 * fails on the canary halts the rollout: the second box, asked to run now, keeps the old content
 * on disk. The fix (the file the check wants, made on the canary) and a resume take the commit to
 * both; the next failing commit is aborted and the canary goes back to the previous content.
 */
import { appendFileSync } from "node:fs";
import t from "tap";
import type { RolloutView } from "../../server/rollouts/view.js";
import { type Box, bootBox, noBoxes } from "../boxes/lib/index.js";
import { buildBundle, fleetServer } from "../helpers/agent-e2e.js";
import { until } from "../helpers/push-daemon.js";
import { TestRepo } from "../helpers/server-git.js";
import { stop } from "../helpers/server-process.js";

/** Every box gets /etc/tend-release; the canary (roll-1) also a health check wanting `want`. */
const recipes = (release: string, want?: string) => ({
  "nodes.yaml": `- name: "*"\n  recipes: [release]\n${want ? "- name: roll-1\n  recipes: [health]\n" : ""}`,
  "release/recipe.yaml": `description: release\nresources:\n  - file: /etc/tend-release\n    content: ${JSON.stringify(release)}\n`,
  ...(want
    ? {
        "health/recipe.yaml": `description: health\nchecks:\n  - command: [/usr/bin/test, -e, ${JSON.stringify(want)}]\n    name: ready\n`,
      }
    : {}),
});

t.test(
  "canary halts on its health check, the other box keeps its file; resume; abort",
  { skip: noBoxes },
  async (t) => {
    const bundle = buildBundle();
    const repo = new TestRepo();
    t.teardown(() => repo.cleanup());
    repo.commit(recipes("v1\n"), "v1");
    const fleet = await fleetServer(repo.dir, bundle);
    appendFileSync(fleet.config, "deploy:\n  on_commit: auto\n  waves: 1\n  timeout: 3m\n");
    const server = await fleet.start();
    t.teardown(() => stop(server));
    const boxes: Box[] = [];
    for (const name of ["roll-1", "roll-2"]) {
      const box = await bootBox(t, { hostname: name });
      const install = await box.exec(
        `curl -fsSL ${fleet.url}/install.sh | sh -s -- --server ${fleet.url} --token ${await fleet.token(1)}`,
      );
      t.equal(install.code, 0, install.stderr.slice(-2000));
      boxes.push(box);
    }
    const [canary, other] = boxes as [Box, Box];
    const release = async (box: Box) => (await box.exec("cat /etc/tend-release")).stdout;
    const both = async (content: string) => {
      for (const box of boxes)
        await until(
          `${content.trim()} on a box`,
          async () => ((await release(box)) === content ? true : undefined),
          120_000,
        );
    };
    const streams = async (box: Box) =>
      (await box.run("journalctl -u tend-agent.service -o cat --no-pager")).includes("push: connected");
    for (const box of boxes)
      await until("the daemon's stream", async () => ((await streams(box)) ? true : undefined), 60_000);
    await both("v1\n");
    const newest = async () =>
      ((await fleet.get("/api/v1/rollouts")) as { rollouts: RolloutView[] }).rollouts[0];
    const rollout = async (state: string, commit: string) =>
      until(
        `a rollout ${state}`,
        async () => {
          const r = await newest();
          return r?.commit === commit && r.state === state ? r : undefined;
        },
        180_000,
      );

    const t0 = Date.now();
    const v2 = repo.commit(recipes("v2\n"), "v2");
    await fleet.post("/api/v1/hooks/git");
    await both("v2\n");
    const took = Date.now() - t0;
    await rollout("done", v2);
    t.comment(
      `git commit + webhook → both boxes converged v2 through a rollout (canary, then the other) in ${(took / 1000).toFixed(1)} s; their schedule is every 30 min`,
    );

    const v3 = repo.commit(recipes("v3\n", "/etc/tend-ready"), "v3: the canary checks /etc/tend-ready");
    await fleet.post("/api/v1/hooks/git");
    const halted = await rollout("halted", v3);
    t.match(halted.reason, "the canary failed on roll-1");
    t.equal(await release(canary), "v3\n", "the canary runs v3");
    const reports = async () =>
      ((await fleet.get("/api/v1/nodes/roll-2/reports")) as { id: string }[]).length;
    const before = await reports();
    await fleet.post("/api/v1/nodes/roll-2/run");
    await until("roll-2's run", async () => ((await reports()) > before ? true : undefined), 120_000);
    t.equal(
      await release(other),
      "v2\n",
      "asked to run while the rollout is halted, roll-2 keeps v2 on disk",
    );

    await canary.run("touch /etc/tend-ready");
    await fleet.post(`/api/v1/rollouts/${halted.id}/resume`);
    await both("v3\n");
    await rollout("done", v3);
    t.pass("fixed on the canary and resumed: both boxes run v3");

    const v4 = repo.commit(recipes("v4\n", "/etc/tend-ready-v4"), "v4: a check nobody passes");
    await fleet.post("/api/v1/hooks/git");
    const second = await rollout("halted", v4);
    t.equal(await release(canary), "v4\n");
    await fleet.post(`/api/v1/rollouts/${second.id}/abort`);
    await both("v3\n");
    t.pass("aborted: the canary went back to v3, roll-2 never left it");
  },
);
