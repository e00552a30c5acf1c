// `npm start`: a tend server on this machine with data from this machine. It serves the example
// recipes (recipes/, committed into a git repository of its own under the data folder), enrolls
// this machine as node web-1 and posts a plan (`tend agent run --noop`: nothing on the machine is
// changed), then prints the dashboard address and an admin token and serves until Ctrl-C.
//
//   npm start [-- --port 7420] [-- --dir ./tend-demo]
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { port: { type: "string", default: "7420" }, dir: { type: "string", default: "tend-demo" } },
});
const root = resolve(new URL("..", import.meta.url).pathname);
const dir = resolve(values.dir);
const url = `http://127.0.0.1:${values.port}`;
const tend = resolve(root, "bin", "tend.js");
const config = resolve(dir, "server.yaml");

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...opts });
  if (r.status !== 0) {
    process.stderr.write(`demo: ${cmd} ${args.join(" ")} failed:\n${r.stderr}${r.stdout}`);
    process.exit(1);
  }
  return r.stdout.trim();
}
const say = (s) => process.stdout.write(`${s}\n`);

// A fresh demo each time: the recipes as a git repository, a server configuration, a data folder.
rmSync(dir, { recursive: true, force: true });
const repo = resolve(dir, "recipes.src");
mkdirSync(repo, { recursive: true });
cpSync(resolve(root, "recipes"), repo, { recursive: true });
const git = (...args) => run("git", ["-C", repo, ...args]);
git("init", "-q", "-b", "main");
git("add", "-A");
git("-c", "user.name=tend demo", "-c", "user.email=demo@localhost", "commit", "-q", "-m", "example recipes");
writeFileSync(
  config,
  `listen: 127.0.0.1:${values.port}\ndata_dir: ${resolve(dir, "data")}\nrecipes:\n  repo: ${repo}\n  branch: main\n  poll: 10s\n`,
);

// Build first, so the demo always runs this checkout's code (esbuild takes about a second).
run(process.execPath, [resolve(root, "scripts", "build.mjs")], { cwd: root });
const admin = run(process.execPath, [
  tend,
  "server",
  "token",
  "create",
  "--admin",
  "--ttl",
  "7d",
  "--config",
  config,
]);
const enrol = run(process.execPath, [tend, "server", "token", "create", "--config", config]);

const server = spawn(process.execPath, [tend, "server", "--config", config], {
  stdio: ["ignore", "ignore", "inherit"],
});
const stop = () => server.kill("SIGTERM");
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
server.on("exit", (code) => process.exit(code ?? 0));

for (let i = 0; ; i++) {
  const ok = await fetch(`${url}/healthz`)
    .then((r) => r.ok)
    .catch(() => false);
  if (ok) break;
  if (i > 100) {
    process.stderr.write(`demo: the server did not answer on ${url}\n`);
    stop();
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 100));
}

const agentConfig = resolve(dir, "agent.yaml");
const state = resolve(dir, "agent-state");
run(
  process.execPath,
  [
    tend,
    "agent",
    "enroll",
    "--server",
    url,
    "--node",
    "web-1",
    "--config",
    agentConfig,
    "--state-dir",
    state,
  ],
  {
    env: { ...process.env, TEND_ENROLL_TOKEN: enrol },
  },
);
// A plan only: what this machine would need to become web-1, reported to the server.
const plan = spawnSync(process.execPath, [tend, "agent", "run", "--noop", "--config", agentConfig], {
  encoding: "utf8",
});
process.stdout.write(plan.stdout);

say("");
say(`tend server: ${url}  (data in ${dir})`);
say(`dashboard:   ${url}/ui/   admin token: ${admin}`);
say(`API:         curl -H 'Authorization: Bearer ${admin}' ${url}/api/v1/nodes`);
say("Ctrl-C stops the server.");
