/**
 * bench/watch: watch mode in a box. A bare Debian trixie box bootstrapped against a real server on
 * the host's loopback with a catalog of `--files` managed files (1,000 by default, in 10
 * directories), a package and a service, its daemon switched to `watch: true`. Printed, never
 * asserted:
 * - the daemon's idle RSS after `--idle` seconds (VmRSS, anonymous and file-backed), beside a bare
 *   `node` started at the same time, and the journal follower's (journalctl) RSS;
 * - CPU while idle: the daemon's and the follower's utime+stime over `--idle` seconds;
 * - the unit-watching candidates measured side by side: the journalctl follower, and a bare
 *   `busctl monitor` of the same units' PropertiesChanged (the cheapest D-Bus client: it needs no
 *   library in the daemon, but systemd sends unit signals only to clients that called Subscribe);
 * - time from a hand edit to repaired on disk, `--edits` times (a script in the box overwrites a
 *   random managed file and polls it every 2 ms until tend has put it back): p50, p90, p99, max.
 *
 * `--compare OTHER-BUNDLE.js` (another build of the agent bundle, e.g. main's, from
 * `node scripts/build.mjs DIR`) times the edits of both builds in the same box and sitting: in
 * blocks of `--block` edits, alternately, the daemon restarted on the other build between blocks
 * (`--edits` each).
 *
 *   npx tsx bench/watch.ts [--files 1000] [--idle 60] [--edits 100] [--compare OTHER.js [--block 10]] [--raw]
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { Box } from "../test/boxes/lib/index.js";
import { buildBundle, fleetServer } from "../test/helpers/agent-e2e.js";
import { TestRepo } from "../test/helpers/server-git.js";
import { stop } from "../test/helpers/server-process.js";

const { values } = parseArgs({
  options: {
    files: { type: "string", default: "1000" },
    idle: { type: "string", default: "60" },
    edits: { type: "string", default: "100" },
    compare: { type: "string" },
    block: { type: "string", default: "10" },
    /** Print every edit's time, in the order they were made. */
    raw: { type: "boolean", default: false },
  },
});
const files = Number(values.files);
const idleS = Number(values.idle);
const edits = Number(values.edits);

const resources = ["resources:", "  - package: hello", "  - file: /etc/systemd/system/bench-svc.service"];
resources.push(
  '    content: "[Service]\\nExecStart=/bin/sleep infinity\\n"',
  "  - service: bench-svc",
  "    ensure: running",
);
resources.push("  - file: /srv/bench", "    ensure: directory");
for (let d = 0; d < 10; d++) resources.push(`  - file: /srv/bench/d${d}`, "    ensure: directory");
for (let i = 0; i < files; i++)
  resources.push(`  - file: /srv/bench/d${i % 10}/f${i}.conf`, `    content: "managed file ${i}\\n"`);
const repo = new TestRepo();
repo.commit({
  "nodes.yaml": '- name: "*"\n  recipes: [bench]\n',
  "bench/recipe.yaml": `${resources.join("\n")}\n`,
});
const fleet = await fleetServer(repo.dir, buildBundle());
const server = await fleet.start();
const box = await Box.boot({ hostname: "bench-watch" });

const EDITS = `
const fs = require("node:fs");
const [files, edits] = process.argv.slice(1).map(Number);
const ms = [];
(async () => {
  for (let k = 0; k < edits; k++) {
    const i = Math.floor(Math.random() * files);
    const path = "/srv/bench/d" + (i % 10) + "/f" + i + ".conf";
    const want = "managed file " + i + "\\n";
    const t0 = performance.now();
    fs.writeFileSync(path, "edited by hand " + k + "\\n");
    while (fs.readFileSync(path, "utf8") !== want) await new Promise((r) => setTimeout(r, 2));
    ms.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 400)); // past the daemon's grace after the run
  }
  console.log(JSON.stringify(ms));
})();
`;

try {
  const token = await fleet.token(1);
  await box.run(`curl -fsSL ${fleet.url}/install.sh | sh -s -- --server ${fleet.url} --token ${token}`);
  await box.run(
    "printf 'schedule: \"0 0 1 1 *\"\\nwatch: true\\n' >> /etc/tend/agent.yaml && tend agent run >/dev/null; systemctl restart tend-agent",
  );
  await box.run("systemd-run --unit=bench-bare-node --quiet /usr/bin/node -e 'setInterval(()=>{},1e9)'");
  await box.run(
    "systemd-run --unit=bench-busctl --quiet busctl monitor --match \"type='signal',interface='org.freedesktop.DBus.Properties',path='/org/freedesktop/systemd1/unit/bench_2dsvc_2eservice'\"",
  );
  const pidOf = async (unit: string) => (await box.run(`systemctl show -p MainPID --value ${unit}`)).trim();
  const daemon = await pidOf("tend-agent");
  // The daemon arms its watchers once it has read the plan, just after its restart.
  let follower = "";
  for (let i = 0; i < 300 && !follower; i++) {
    follower = (
      await box.run(
        'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = journalctl ] && basename $p; done; true',
      )
    ).trim();
    if (!follower) await new Promise((r) => setTimeout(r, 100));
  }
  const bare = await pidOf("bench-bare-node");
  const busctl = await pidOf("bench-busctl");
  const watches = (
    await box.run("journalctl -u tend-agent --no-pager -o cat | grep 'watch:' | tail -1")
  ).trim();
  const cpuTicks = async (pid: string) => {
    const stat = await box.run(`cat /proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  };
  const before = await Promise.all([daemon, follower, busctl].map(cpuTicks));
  await new Promise((r) => setTimeout(r, idleS * 1000));
  const after = await Promise.all([daemon, follower, busctl].map(cpuTicks));
  const rss = async (pid: string) => {
    const status = await box.run(`cat /proc/${pid}/status`);
    const mib = (k: string) =>
      (Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024).toFixed(1);
    return `${mib("VmRSS")} MiB (anonymous ${mib("RssAnon")}, file-backed ${mib("RssFile")})`;
  };
  const cpu = (i: number) => `${(((after[i]! - before[i]!) / 100 / idleS) * 100).toFixed(3)} % of a core`;
  const idle = [await rss(daemon), await rss(follower), await rss(busctl), await rss(bare)];
  process.stdout.write(`idle: ${idle.join(" | ")}; cpu ${cpu(0)} ${cpu(1)} ${cpu(2)}\n`);
  const timeEdits = async (n: number) =>
    JSON.parse((await box.run(["node", "-e", EDITS, String(files), String(n)])).trim()) as number[];
  const q = (list: number[], p: number) => {
    const ms = [...list].sort((a, b) => a - b);
    return ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]!.toFixed(0);
  };
  const figures = (ms: number[]) =>
    `${ms.length} edits: p50 ${q(ms, 50)} ms, p90 ${q(ms, 90)} ms, p99 ${q(ms, 99)} ms, max ${q(ms, 100)} ms`;
  const loadBefore = loadavg()[0]!;
  const ms: number[] = [];
  const other: number[] = [];
  if (values.compare) {
    const LIB = "/usr/local/lib/tend";
    await box.run(`cp ${LIB}/tend-agent.js ${LIB}/this.js`);
    await box.writeFile(`${LIB}/other.js`, readFileSync(values.compare));
    /** The daemon on `build`, once it watches again. */
    const use = async (build: string) => {
      const armed = async () =>
        Number(
          (await box.run("journalctl -u tend-agent --no-pager -o cat | grep -c '^watch: [0-9]'")).trim(),
        );
      const before = await armed();
      await box.run(`cp ${LIB}/${build}.js ${LIB}/tend-agent.js && systemctl restart tend-agent`);
      while ((await armed()) === before) await new Promise((r) => setTimeout(r, 100));
    };
    const block = Number(values.block);
    for (let done = 0; done < edits; done += block) {
      const n = Math.min(block, edits - done);
      await use("other");
      other.push(...(await timeEdits(n)));
      await use("this");
      ms.push(...(await timeEdits(n)));
    }
  } else ms.push(...(await timeEdits(edits)));
  const load = `load average ${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`;
  const node = (await box.run("node --version")).trim();
  process.stdout.write(
    [
      `watch mode, ${files} managed files in 10 directories + a package + a service; Node.js ${node} in a trixie box`,
      `  ${watches}`,
      `idle ${idleS}s:`,
      `  daemon (watch: true)       RSS ${idle[0]}  CPU ${cpu(0)}`,
      `  journalctl follower        RSS ${idle[1]}  CPU ${cpu(1)}`,
      `  busctl monitor (candidate) RSS ${idle[2]}  CPU ${cpu(2)}`,
      `  bare node                  RSS ${idle[3]}`,
      `hand edit → repaired on disk, ${figures(ms)} (${load})`,
      ...(values.compare ? [`  --compare ${values.compare}: ${figures(other)}`] : []),
      ...(values.raw
        ? [`  each (ms): ${ms.map((x) => x.toFixed(0)).join(" ")}`].concat(
            values.compare ? [`  --compare each: ${other.map((x) => x.toFixed(0)).join(" ")}`] : [],
          )
        : []),
      "",
    ].join("\n"),
  );
} finally {
  await box.remove();
  await stop(server);
  repo.cleanup();
}
