/**
 * The example app server (recipes/appserver) converged from a bare Debian trixie box by ONE
 * `tend apply` of the example repository, run by this checkout inside the box (docs/boxes.md). What
 * the box fetches is real and on loopback: the app's git repository (recipes/appserver/example-app,
 * committed into a repository that `git daemon` serves) and a signed apt repository holding the
 * app-backup tool (gpg + apt-ftparchive, helpers/apt-repo); Debian itself comes from the mirror. The
 * node's rule in nodes.yaml points the recipe at them, and the repository's key and the deploy
 * key are the test's own, as a site replaces the example's. Then: the checks pass, nginx answers
 * with the app's words, the deploy key logs in through sshd, the cron job and the backup tool work;
 * a second apply changes nothing; a new commit of the app is checked out and restarts it.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { imageRecipe, noBoxes } from "../boxes/lib/index.js";
import { freePort } from "../helpers/agent-e2e.js";
import { serveAptRepo } from "../helpers/apt-repo.js";
import { bootTendBox, tendIn } from "../helpers/box-kind.js";
import { repoRoot } from "../helpers/cli.js";

interface Report {
  status: string;
  resources: { id: string; status: string; changes?: { property: string; to?: unknown }[]; error?: string }[];
  checks?: { id: string; status: string; reason?: string }[];
}

const example = join(repoRoot, "recipes");
const EXAMPLE_FINGERPRINT = "D5FD B42F 5EF8 62C1 771A  CAB6 003E 3658 0539 199A";
const EXAMPLE_DEPLOY_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIESAKoINWOTtrdFjrYwFe+fCJS6IQqySzCZJUauT57nK deploy@laptop";
const BACKUP_TOOL = `#!/bin/sh
# app-backup SRC DEST: a dated tar.gz of SRC in DEST; the newest 7 are kept.
set -eu
tar -czf "$2/app-$(date +%Y%m%d-%H%M%S).tar.gz" -C "$1" .
ls -1t "$2"/app-*.tar.gz | tail -n +8 | xargs -r rm --
`;

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=dev", "-c", "user.email=dev@app.test", ...args], {
    cwd,
    encoding: "utf8",
  }).trim();

/** The app's repository, from the example app, and `git daemon` serving it on 127.0.0.1. */
async function serveApp(root: string): Promise<{ url: string; work: string; daemon: ChildProcess }> {
  const served = join(root, "git");
  const work = join(root, "app-work");
  mkdirSync(served);
  git(root, "init", "-q", "--bare", "-b", "main", join(served, "app.git"));
  git(root, "init", "-q", "-b", "main", work);
  cpSync(join(example, "appserver", "example-app"), work, { recursive: true });
  git(work, "add", ".");
  git(work, "commit", "-qm", "the app, 1.0");
  git(work, "push", "-q", join(served, "app.git"), "main");
  const port = await freePort();
  const daemon = spawn(
    "git",
    [
      "daemon",
      "--export-all",
      "--reuseaddr",
      "--listen=127.0.0.1",
      `--port=${port}`,
      `--base-path=${served}`,
      served,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const url = `git://127.0.0.1:${port}/app.git`;
  for (let i = 0; ; i++) {
    try {
      git(root, "ls-remote", url);
      break;
    } catch (err) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, work, daemon };
}

t.test("the example app server converges from bare in one apply", { skip: noBoxes }, async (t) => {
  // Under /var/tmp: bound into the box at the same path.
  const root = mkdtempSync("/var/tmp/tend-appserver-");
  const apt = await serveAptRepo(root, {
    name: "app-backup",
    version: "1.0",
    files: { "/usr/sbin/app-backup": { content: BACKUP_TOOL, mode: 0o755 } },
  });
  const app = await serveApp(root);
  t.teardown(async () => {
    app.daemon.kill();
    await apt.close();
    rmSync(root, { recursive: true, force: true });
  });
  const [appPort, listenPort, sshPort] = [await freePort(), await freePort(), await freePort()];

  // The example repository as a site would adopt it: its own repository's key and pin, and the
  // node's URLs and ports in nodes.yaml.
  const recipes = join(root, "recipes");
  cpSync(example, recipes, { recursive: true });
  writeFileSync(join(recipes, "appserver", "files", "app-tools.asc"), apt.key.armored);
  const recipePath = join(recipes, "appserver", "recipe.yaml");
  const recipe = readFileSync(recipePath, "utf8");
  t.ok(recipe.includes(EXAMPLE_FINGERPRINT), "the example pins its example key");
  // The deploy key: one whose private half the test holds, so it can log in with it.
  const deployKey = join(root, "deploy-key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "deploy@test", "-f", deployKey]);
  const deployPub = readFileSync(`${deployKey}.pub`, "utf8").trim();
  t.ok(recipe.includes(EXAMPLE_DEPLOY_KEY), "the example authorizes its example key");
  writeFileSync(
    recipePath,
    recipe.replace(EXAMPLE_FINGERPRINT, apt.key.fingerprint).replace(EXAMPLE_DEPLOY_KEY, deployPub),
  );
  const vars = {
    debian_mirror: imageRecipe.mirror,
    apt_repo_url: apt.url,
    app_repo: app.url,
    app_port: appPort,
    listen_port: listenPort,
    // The box shares the host's network, where sshd may hold port 22.
    ssh_port: sshPort,
  };
  writeFileSync(
    join(recipes, "nodes.yaml"),
    `${readFileSync(join(recipes, "nodes.yaml"), "utf8")}\n- name: appserver-1\n  vars: ${JSON.stringify(vars)}\n`,
  );

  const box = await bootTendBox(t, "appserver-1", [root]);
  const apply = async () => {
    const out = await tendIn(box, ["apply", recipes, "--json"]);
    let report: Report;
    try {
      report = JSON.parse(out.stdout) as Report;
    } catch {
      throw new Error(`tend apply printed no report (exit ${out.code}): ${out.stderr}${out.stdout}`);
    }
    const failed = report.resources.filter((r) => r.status !== "changed" && r.status !== "unchanged");
    const badChecks = (report.checks ?? []).filter((c) => c.status !== "ok");
    return { code: out.code, report, failed, badChecks, stderr: out.stderr };
  };

  const first = await apply();
  t.same(first.failed, [], "every resource converged");
  t.same(first.badChecks, [], "every check passed");
  t.equal(first.code, 2, "exit 2: changes, no failures");
  t.same(
    first.report.checks?.map((c) => c.id),
    ["the app answers", "nginx proxies to the app"],
  );
  const changed = new Set(first.report.resources.filter((r) => r.status === "changed").map((r) => r.id));
  for (const id of [
    "apt_repository:debian",
    "apt_repository:app-tools",
    "package:app-backup",
    "user:deploy",
    "authorized_key:deploy@laptop",
    "git:/srv/app",
    "systemd_unit:app.service",
    "service:app",
    "line:nginx does not tell its version",
    "cron:app-backup",
  ])
    t.ok(changed.has(id), `${id} was made`);

  t.equal(
    await box.run(`curl -fsS http://127.0.0.1:${listenPort}/`),
    "hello from the app 1.0 (visit 1)\n",
    "nginx answers with the app's words",
  );
  t.match(
    await box.run(`curl -fsSI http://127.0.0.1:${listenPort}/healthz`),
    /^Server: nginx\r$/m,
    "without its version (the line in nginx.conf)",
  );
  t.equal(
    await box.run("stat -c '%a %U:%G' /home/deploy/.ssh /home/deploy/.ssh/authorized_keys"),
    "700 deploy:deploy\n600 deploy:deploy\n",
    "the deploy user's key, with the modes sshd wants",
  );
  t.equal(
    await box.readFile("/home/deploy/.ssh/authorized_keys"),
    `no-port-forwarding,no-agent-forwarding ${deployPub}\n`,
  );
  t.match(
    await box.readFile("/etc/cron.d/app-backup"),
    /^30 2 \* \* \* root \/usr\/sbin\/app-backup \/var\/lib\/app \/var\/backups\/app$/m,
    "the backup job is in /etc/cron.d",
  );
  t.equal(await box.run("stat -c '%U %a' /srv/app/server.js"), "deploy 644\n", "the checkout is deploy's");
  t.equal(await box.run("systemctl is-enabled app nginx"), "enabled\nenabled\n");
  t.equal(
    await box.run([
      "ssh",
      ...["-i", deployKey, "-p", String(sshPort), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"],
      ...["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "deploy@127.0.0.1", "id -un"],
    ]),
    "deploy\n",
    "the deploy key logs in as deploy, through sshd on the node's ssh_port (StrictModes on)",
  );
  await box.run("/usr/sbin/app-backup /var/lib/app /var/backups/app");
  t.match(
    await box.run("tar -xzOf /var/backups/app/app-*.tar.gz ./visits"),
    /^1$/,
    "the backup tool from the served apt repository backs up the app's data",
  );

  const second = await apply();
  t.equal(second.code, 0, `a second apply changes nothing (exit 0) ${second.stderr}`);
  t.equal(second.report.status, "unchanged");
  t.same(
    second.report.resources.filter((r) => r.status !== "unchanged").map((r) => r.id),
    [],
    "every resource unchanged",
  );
  t.same(second.badChecks, [], "and the checks still pass");

  await t.test("a new commit of the app is checked out and restarts the service", async (t) => {
    const server = join(app.work, "server.js");
    writeFileSync(server, readFileSync(server, "utf8").replace('VERSION = "1.0"', 'VERSION = "1.1"'));
    git(app.work, "commit", "-qam", "the app, 1.1");
    git(app.work, "push", "-q", join(root, "git", "app.git"), "main");
    const sha = git(app.work, "rev-parse", "HEAD");
    const third = await apply();
    t.equal(third.code, 2, "exit 2: changes");
    t.same(third.failed, []);
    t.same(third.badChecks, []);
    const byId = new Map(third.report.resources.map((r) => [r.id, r]));
    t.match(byId.get("git:/srv/app"), { status: "changed", changes: [{ property: "revision", to: sha }] });
    t.match(byId.get("service:app")?.changes, [{ property: "refresh", to: ["git:/srv/app"] }], "notified");
    t.same(
      third.report.resources.filter((r) => r.status === "changed").map((r) => r.id),
      ["git:/srv/app", "service:app"],
      "nothing else changed",
    );
    t.match(
      await box.run(`curl -fsS http://127.0.0.1:${listenPort}/`),
      /^hello from the app 1\.1 \(visit 2\)\n$/,
      "the restarted app serves the new commit, with its data kept",
    );
  });
});
