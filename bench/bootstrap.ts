/**
 * bench/bootstrap: a booted bare Debian trixie box to converged, in seconds from `curl | sh` to its
 * exit (package downloads included: nodejs from the distribution, the demo recipe's `hello`), and
 * the agent daemon's idle RSS after it. Needs root and systemd-nspawn (test/boxes).
 *
 *   npx tsx bench/bootstrap.ts
 */
import { Box } from "../test/boxes/lib/index.js";
import { buildBundle, fleetServer } from "../test/helpers/agent-e2e.js";
import { TestRepo } from "../test/helpers/server-git.js";
import { stop } from "../test/helpers/server-process.js";

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
  await new Promise((res) => setTimeout(res, 5000));
  const pid = (await box.run("systemctl show -p MainPID --value tend-agent.service")).trim();
  const rssKb = Number(
    (await box.run(`ps -o rss= -p ${pid} 2>/dev/null || awk '/VmRSS/{print $2}' /proc/${pid}/status`)).trim(),
  );
  console.log(`bare box → converged (curl | sh to exit): ${seconds.toFixed(1)} s`);
  console.log(`agent daemon idle RSS: ${(rssKb / 1024).toFixed(1)} MiB (pid ${pid})`);
} finally {
  await box.remove();
  await stop(server);
  repo.cleanup();
}
