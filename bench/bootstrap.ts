/**
 * bench/bootstrap: a booted bare Debian trixie box to converged, in seconds from `curl | sh` to its
 * exit (package downloads included: nodejs from the distribution, the demo recipe's `hello`), and
 * the agent daemon's idle RSS after it: VmRSS, its anonymous and file-backed parts, after `--idle`
 * seconds (60 by default), beside a bare `node -e 'setInterval(()=>{},1e9)'` started in the same
 * box at the same time (the floor any Node.js daemon starts from). Needs root and systemd-nspawn
 * (test/boxes).
 *
 *   npx tsx bench/bootstrap.ts [--idle 60] [--compare OTHER-BUNDLE.js [--compare-flags FLAGS]
 *                              [--compare-env "K=V ..."]]
 *
 * `--compare` also starts another build of the agent bundle as a second idle daemon on the same
 * configuration (its schedule is not expected to fire within `--idle`), to compare builds side by side.
 * It is started as tend-agent.service started the daemon before the daemon had flags of its own
 * (`tend agent daemon`, no Node.js flags, `MALLOC_TRIM_THRESHOLD_=131072`); `--compare-flags` and
 * `--compare-env` (space-separated) change that.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Box } from "../test/boxes/lib/index.js";
import { buildBundle, fleetServer } from "../test/helpers/agent-e2e.js";
import { TestRepo } from "../test/helpers/server-git.js";
import { stop } from "../test/helpers/server-process.js";

const { values } = parseArgs({
  options: {
    idle: { type: "string", default: "60" },
    compare: { type: "string" },
    "compare-flags": { type: "string", default: "" },
    "compare-env": { type: "string", default: "MALLOC_TRIM_THRESHOLD_=131072" },
  },
});
const idleS = Number(values.idle);
const repo = new TestRepo();
repo.commit({
  "nodes.yaml": '- name: "*"\n  recipes: [base]\n',
  "base/recipe.yaml":
    'description: base\nresources:\n  - package: hello\n  - file: /etc/motd\n    content: "managed by tend\\n"\n',
});
const fleet = await fleetServer(repo.dir, buildBundle());
const server = await fleet.start();
const box = await Box.boot({ hostname: "bench-1" });
try {
  const token = await fleet.token(1);
  const t0 = performance.now();
  const r = await box.exec(
    `curl -fsSL ${fleet.url}/install.sh | sh -s -- --server ${fleet.url} --token ${token}`,
  );
  const seconds = (performance.now() - t0) / 1000;
  if (r.code !== 0) throw new Error(`install.sh failed:\n${r.stderr}`);
  // The daemon started during install.sh; a bare node starts now, and both idle together.
  await box.run("systemd-run --unit=bench-bare-node --quiet /usr/bin/node -e 'setInterval(()=>{},1e9)'");
  if (values.compare) {
    await box.writeFile("/usr/local/lib/tend/compare.js", readFileSync(values.compare));
    const env = values["compare-env"]
      .split(" ")
      .filter(Boolean)
      .map((kv) => `-p Environment=${kv}`);
    await box.run(
      `systemd-run --unit=bench-compare --quiet ${env.join(" ")} /usr/bin/node ${values["compare-flags"]} /usr/local/lib/tend/compare.js agent daemon --config /etc/tend/agent.yaml`,
    );
  }
  await new Promise((res) => setTimeout(res, idleS * 1000));
  const pid = (await box.run("systemctl show -p MainPID --value tend-agent.service")).trim();
  const bare = (await box.run("systemctl show -p MainPID --value bench-bare-node.service")).trim();
  const status = async (p: string) => {
    const text = await box.run(`cat /proc/${p}/status`);
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? Number.NaN);
    const mib = (key: string) => (kb(key) / 1024).toFixed(1);
    return `${mib("VmRSS")} MiB (anonymous ${mib("RssAnon")}, file-backed ${mib("RssFile")})`;
  };
  console.log(`bare box → converged (curl | sh to exit): ${seconds.toFixed(1)} s`);
  console.log(`agent daemon idle RSS after ${idleS} s: ${await status(pid)} (pid ${pid})`);
  console.log(`bare node idle RSS, same box:  ${await status(bare)}`);
  if (values.compare) {
    const other = (await box.run("systemctl show -p MainPID --value bench-compare.service")).trim();
    console.log(`--compare daemon idle RSS:     ${await status(other)}`);
  }
  console.log(`node: ${(await box.run("node --version")).trim()}`);
} finally {
  await box.remove();
  await stop(server);
  repo.cleanup();
}
