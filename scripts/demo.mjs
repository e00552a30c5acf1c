// `npm start`: a tend server on this machine with data from this machine. It serves the example
// recipes (recipes/, committed into a git repository of its own under the data folder), enrolls
// this machine as node web-1 and posts a plan (`tend agent run --noop`: nothing on the machine is
// changed), then prints the dashboard address and an admin token and serves until Ctrl-C.
// Two more nodes make the fleet mean something: app-1 converges a demo recipe whose files live
// under the demo folder, someone edits one by hand and the next run repairs it (drift), and db-1's
// recipe has a command that fails. The server's log goes to DIR/server.log, so the banner stays
// readable and comes last. Last, a deploy: a commit to app-1's configuration rolled out with
// `tend deploy` (the server waits for deploys: `deploy.on_commit: manual`).
//
//   npm start [-- --port 7420] [-- --dir ./tend-demo]
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
// The demo's own nodes manage only files under the demo folder; in this copy the base recipe goes
// to the web servers (which include it anyway) rather than to every node, so app-1 and db-1 can
// converge for real without touching this machine.
const boxes = resolve(dir, "boxes");
mkdirSync(boxes, { recursive: true });
const nodesYaml = resolve(repo, "nodes.yaml");
writeFileSync(
  nodesYaml,
  `${readFileSync(nodesYaml, "utf8").replace('- name: "*"', '- name: "web-*"')}
- name: app-1
  description: the demo's app node (files under ${boxes}/app-1)
  recipes: [demo-app]

- name: db-1
  description: the demo's database node, whose replica check fails
  recipes: [demo-db]
`,
);
mkdirSync(resolve(repo, "demo-app"));
writeFileSync(
  resolve(repo, "demo-app", "recipe.yaml"),
  `description: the demo's app configuration, under the demo folder
resources:
  - file: ${boxes}/app-1
    ensure: directory
  - file: ${boxes}/app-1/app.conf
    content: |
      # managed by tend: edits by hand are reverted
      workers = 4
      listen = 127.0.0.1:8080
`,
);
mkdirSync(resolve(repo, "demo-db"));
writeFileSync(
  resolve(repo, "demo-db", "recipe.yaml"),
  `description: the demo's database configuration, and a check that the replica keeps up
resources:
  - file: ${boxes}/db-1
    ensure: directory
  - file: ${boxes}/db-1/db.conf
    content: |
      max_connections = 200
  - exec: check replica lag
    command: echo "replica lag 42 s, over the 30 s limit" >&2; exit 1
    shell: true
    require: [file:${boxes}/db-1/db.conf]
`,
);
git("init", "-q", "-b", "main");
git("add", "-A");
git("-c", "user.name=tend demo", "-c", "user.email=demo@localhost", "commit", "-q", "-m", "example recipes");
writeFileSync(
  config,
  `listen: 127.0.0.1:${values.port}\ndata_dir: ${resolve(dir, "data")}\nrecipes:\n  repo: ${repo}\n  branch: main\n  poll: 10s\n` +
    // A new commit waits for `tend deploy` (docs/deploys.md).
    "deploy:\n  on_commit: manual\n",
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
const enrol = run(process.execPath, [tend, "server", "token", "create", "--uses", "3", "--config", config]);

const logPath = resolve(dir, "server.log");
const log = openSync(logPath, "a", 0o600);
const server = spawn(process.execPath, [tend, "server", "--config", config], {
  stdio: ["ignore", log, log],
});
const stop = () => server.kill("SIGTERM");
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
server.on("exit", (code) => {
  if (code) process.stderr.write(`demo: the server stopped (exit ${code}); its log: ${logPath}\n`);
  process.exit(code ?? 0);
});

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

/** Enrols `node` with its own configuration and state under the demo folder; returns its tend runner. */
function agent(node) {
  const agentConfig = resolve(dir, "agents", `${node}.yaml`);
  const state = resolve(dir, "agents", node);
  mkdirSync(state, { recursive: true });
  const args = [
    "agent",
    "enroll",
    "--server",
    url,
    "--node",
    node,
    "--config",
    agentConfig,
    "--state-dir",
    state,
  ];
  run(process.execPath, [tend, ...args], { env: { ...process.env, TEND_ENROLL_TOKEN: enrol } });
  return (...more) =>
    spawnSync(process.execPath, [tend, "agent", "run", ...more, "--config", agentConfig], {
      encoding: "utf8",
    });
}

// A plan only: what this machine would need to become web-1, reported to the server.
const plan = agent("web-1")("--noop");
// app-1 converges, someone edits its configuration by hand, the next run puts it back: drift.
const app = agent("app-1");
app();
writeFileSync(resolve(boxes, "app-1", "app.conf"), "workers = 64  # tuned by hand, on a Friday\n");
app();
// db-1 converges its file; its replica check fails every run.
agent("db-1")();

// A deploy: a new commit of app-1's configuration, rolled out with `tend deploy` (a canary, then
// waves; here one node). The daemon would run on the rollout's signal; the demo runs app-1 itself.
const appConf = resolve(repo, "demo-app", "recipe.yaml");
writeFileSync(appConf, readFileSync(appConf, "utf8").replace("workers = 4", "workers = 8"));
git("-c", "user.name=tend demo", "-c", "user.email=demo@localhost", "commit", "-qam", "app-1: 8 workers");
await fetch(`${url}/api/v1/hooks/git`, { method: "POST", headers: { authorization: `Bearer ${admin}` } });
const deployEnv = { env: { ...process.env, TEND_SERVER: url, TEND_ADMIN_TOKEN: admin } };
const deployed = run(process.execPath, [tend, "deploy", "--nodes", "app-*"], deployEnv);
const rollout = /^rollout (\d+)/.exec(deployed)?.[1] ?? "1";
app();
const status = run(process.execPath, [tend, "deploy", "status", rollout], deployEnv);

process.stdout.write(plan.stdout);
say("");
say(`$ tend deploy --nodes 'app-*'\n${deployed}\n$ tend deploy status ${rollout}\n${status}`);
say("");
say("The fleet: web-1 (this machine, a plan only), app-1 (drift repaired), db-1 (a failing command).");
say(`tend server: ${url}  (data in ${dir}, log in ${logPath})`);
say(`dashboard:   ${url}/ui/   admin token: ${admin}   (the deploy: ${url}/ui/rollouts/${rollout})`);
say(`API:         curl -H 'Authorization: Bearer ${admin}' ${url}/api/v1/nodes`);
say("Ctrl-C stops the server.");
