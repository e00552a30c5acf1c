/**
 * `tend deploy` as a real process against a real server on 127.0.0.1 (issue 11): the plan it
 * prints, `--wait`'s line per wave and its exit codes (4 halted, 0 done), resume, status (text and
 * JSON), abort refused once done, and the usage errors.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { repoRoot } from "../../helpers/cli.js";
import { rolloutFleet } from "../../helpers/rollouts.js";
import { startTestServer } from "../../helpers/server-app.js";

/** `tend ARGS` as a child process, without blocking this process's server. */
function tend(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", `${repoRoot}cli/main.ts`, ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, TEND_ADMIN_TOKEN: "", TEND_TOKEN: "tend_enr_not-an-admin-token", ...env },
        timeout: 120_000,
      },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === "number" ? code : 1, stdout, stderr });
      },
    );
  });
}

async function until(what: string, fn: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const s = await startTestServer({ config: { deploy: { on_commit: "manual" } } });
t.teardown(() => s.close());
const base = await s.app.listen({ host: "127.0.0.1", port: 0 });
const fleet = await rolloutFleet(s, ["web-1", "web-2", "web-3"]);
await fleet.converge();
const b = s.repo.commit({ "README.md": "b\n" }, "release b");
await s.gate.refresh();
const tokenFile = join(s.dataDir, "operator.token");
writeFileSync(tokenFile, `${await s.tokenFor("operator")}\n`, { mode: 0o600 });
const auth = ["--server", base, "--token-file", tokenFile];
const state = async (id: number, node: string) =>
  (await s.deps.deploys.engine.get(id))?.waves.flatMap((w) => w.nodes).find((n) => n.node === node)?.state;

t.test("--help, and what is missing", async (t) => {
  const help = await tend(["deploy", "--help"]);
  t.equal(help.code, 0);
  t.match(help.stdout, /usage: tend deploy \[COMMIT\] \[--nodes GLOB\] \[--canary N\|P%\]/);
  const noServer = await tend(["deploy"]);
  t.equal(noServer.code, 1);
  t.match(noServer.stderr, /tend deploy needs --server URL/);
  const noToken = await tend(["deploy", "--server", base]);
  t.match(noToken.stderr, /needs an operator's token: --token-file FILE or TEND_ADMIN_TOKEN/);
  // TEND_ADMIN_TOKEN, as tend plan --facts-from takes it (TEND_TOKEN is install.sh's enrolment token).
  const fromEnv = await tend(["deploy", "--server", base, "--canary", "half"], {
    TEND_ADMIN_TOKEN: await s.tokenFor("operator"),
  });
  t.match(fromEnv.stderr, /the server answered 400 .*canary/, "the token from TEND_ADMIN_TOKEN is used");
  const bad = await tend(["deploy", ...auth, "--canary", "half"]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /the server answered 400 .*canary/);
  t.notMatch(bad.stderr, /\n\s+at /, "no stack trace");
});

t.test("--wait: a line per wave; halted exits 4; --resume --wait goes on and exits 0", async (t) => {
  const run = tend(["deploy", ...auth, "--waves", "1", "--wait"]);
  let id = 0;
  await until("the rollout", async () => {
    id = (await s.deps.deploys.engine.list())[0]?.id ?? 0;
    return id > 0 && (await state(id, "web-1")) === "running";
  });
  await fleet.report("web-1", b, { fail: true });
  const halted = await run;
  t.equal(halted.code, 4, halted.stderr);
  t.match(
    halted.stdout,
    new RegExp(`rollout ${id} of ${b.slice(0, 12)} \\(from [0-9a-f]{12}\\): 3 node\\(s\\) in 2 wave\\(s\\)`),
  );
  t.match(halted.stdout, /canary {3}web-1\n {2}wave 2 {3}web-2, web-3/);
  t.match(halted.stdout, /canary {3}running {3}1 node\(s\): web-1/);
  t.match(
    halted.stdout,
    /canary {3}failed {4}1 failed.*\n {11}web-1: check http:\/\/127\.0\.0\.1:8080\/health failed/,
  );
  t.match(
    halted.stdout,
    new RegExp(`rollout ${id} halted: the canary failed on web-1\\n.*tend deploy --resume ${id}`),
  );

  const resume = tend(["deploy", ...auth, "--resume", "--wait"]); // the newest halted one
  await until("the canary again", async () => (await state(id, "web-1")) === "running");
  await fleet.report("web-1", b, { changed: true });
  await until("wave 2", async () => (await state(id, "web-2")) === "running");
  await fleet.converge(["web-2", "web-3"]);
  const done = await resume;
  t.equal(done.code, 0, done.stderr);
  t.match(done.stdout, /canary {3}done {6}1 changed/);
  t.match(done.stdout, /wave 2 {3}done {6}2 unchanged/);
  t.match(done.stdout, new RegExp(`rollout ${id} done in [0-9.]+ s: 1 changed, 2 unchanged`));

  const status = await tend(["deploy", "status", String(id), ...auth]);
  t.equal(status.code, 0);
  t.match(status.stdout, new RegExp(`rollout ${id}: done`));
  t.match(status.stdout, new RegExp(`web-1 +changed \\(1 change\\(s\\)\\) +${base}/ui/reports/[0-9a-f-]+`));
  const json = await tend(["deploy", "status", String(id), "--json", ...auth]);
  t.match(JSON.parse(json.stdout), { id, state: "done", commit: b, counts: { changed: 1, unchanged: 2 } });

  const abort = await tend(["deploy", "--abort", String(id), ...auth]);
  t.equal(abort.code, 1);
  t.match(
    abort.stderr,
    /409 TEND_E_ROLLOUT_STATE: Rollout [0-9]+ is done; only a running or halted rollout can be aborted/,
  );
  const none = await tend(["deploy", "--abort", ...auth]);
  t.equal(none.code, 1);
  t.match(none.stderr, /no rollout is running or halted now; name one: tend deploy status ID/);
});
