/**
 * Health checks from a recipe folder to the exit code, as a person runs them: `tend apply DIR` and
 * `tend plan DIR` as real processes, with the real file and exec kinds, probing an HTTP server on
 * loopback whose port comes from the node's vars. `tend validate` locates a bad check.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { schemaProblems } from "../../../core/schema.js";
import type { Report } from "../../../core/types.js";
import { tendArgv } from "../../helpers/catalog.js";

/** The service the recipes check: /healthz answers "ok" while `healthy`, else 503. */
let healthy = true;
const http = createServer((req, res) => {
  if (req.url === "/healthz" && healthy) res.end("ok\n");
  else res.writeHead(503).end("down for maintenance\n");
});
await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
const port = (http.address() as { port: number }).port;
t.teardown(() => http.close());

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a real process, without blocking this one (it serves the HTTP the process probes). */
function tend(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      tendArgv(args),
      { env: { ...process.env, NO_COLOR: "1" } },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

function recipes(tt: { teardown(fn: () => void): void }, checks: string, resources = "") {
  const dir = mkdtempSync(join(tmpdir(), "tend-cli-checks-"));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const managed = join(dir, "managed");
  mkdirSync(join(dir, "repo", "web"), { recursive: true });
  writeFileSync(
    join(dir, "repo", "nodes.yaml"),
    `- name: "*"\n  recipes: [web]\n  vars: { port: ${port} }\n`,
  );
  writeFileSync(
    join(dir, "repo", "web", "recipe.yaml"),
    `resources:\n  - file: ${managed}\n    content: "listen ${port}\\n"\n${resources}checks:\n${checks}`,
  );
  const stateDir = join(dir, "state");
  const run = (cmd: "apply" | "plan", ...more: string[]) =>
    tend([cmd, join(dir, "repo"), "--node", "web-1", "--state-dir", stateDir, ...more]);
  return { dir, managed, stateDir, run };
}

const healthz = '  - http: "http://127.0.0.1:{{ vars.port }}/healthz"\n    contains: ok\n';

t.test("apply: a passing check is counted in the summary; exit codes as without it", async (t) => {
  healthy = true;
  const w = recipes(t, healthz);
  const first = await w.run("apply");
  t.equal(first.code, 2, first.stderr);
  t.match(first.stdout, /^\+ file:/);
  t.match(first.stdout, /1 changed, 0 unchanged; 1 check ok in [\d.]+s\n$/);
  t.notMatch(first.stdout, /check http/, "a passing check has no line of its own in an apply");
  const second = await w.run("apply");
  t.equal(second.code, 0);
  t.match(second.stdout, /^1 unchanged; 1 check ok in/);
});

t.test("apply: a failing check prints why and fails the run: exit 6 with changes, 4 without", async (t) => {
  healthy = false;
  t.teardown(() => {
    healthy = true;
  });
  const w = recipes(t, healthz);
  const first = await w.run("apply");
  t.equal(first.code, 6);
  const line = `! check http:http://127.0.0.1:${port}/healthz  failed: status 503, wanted 2xx\n    down for maintenance\n`;
  t.ok(first.stdout.includes(line), first.stdout);
  t.match(first.stdout, /1 changed, 0 unchanged; 1 check: 1 failed in/);
  const second = await w.run("apply", "--json");
  t.equal(second.code, 4);
  const report = JSON.parse(second.stdout) as Report;
  t.same(schemaProblems("report", report), [], "the --json report is a valid report");
  t.equal(report.status, "failed");
  t.match(report.summary, { changed: 0, failed: 0, checks_total: 1, checks_failed: 1, checks_skipped: 0 });
  t.match(report.checks, [
    {
      id: `http:http://127.0.0.1:${port}/healthz`,
      type: "http",
      status: "failed",
      attempts: 1,
      reason: "status 503, wanted 2xx",
      excerpt: "down for maintenance\n",
    },
  ]);
});

t.test("a check is skipped when a resource it requires failed", async (t) => {
  const w = recipes(
    t,
    `${healthz}    require: ["exec:ls /nonexistent/tend"]\n  - command: [/bin/true]\n    require: []\n`,
    "  - exec: ls /nonexistent/tend\n",
  );
  const r = await w.run("apply");
  t.equal(r.code, 6);
  t.ok(
    r.stdout.includes(
      `· check http:http://127.0.0.1:${port}/healthz  skipped: exec:ls /nonexistent/tend failed\n`,
    ),
    r.stdout,
  );
  t.match(r.stdout, /; 2 checks: 1 ok, 1 skipped in/);
});

t.test("plan: every probe's result, and nothing written", async (t) => {
  healthy = true;
  const w = recipes(t, `${healthz}  - tcp: 127.0.0.1:${port}\n    require: []\n`);
  const plan = await w.run("plan");
  t.equal(plan.code, 2, "would change; the checks pass");
  t.ok(
    plan.stdout.includes(`✓ check tcp:127.0.0.1:${port}  ok: connected to 127.0.0.1:${port}\n`),
    plan.stdout,
  );
  t.ok(
    plan.stdout.includes(`✓ check http:http://127.0.0.1:${port}/healthz  ok: status 200, body has 'ok'\n`),
  );
  t.notOk(existsSync(w.managed), "the file was not written");
  t.notOk(existsSync(w.stateDir), "no state directory");
  await w.run("apply");
  const mtime = statSync(w.managed).mtimeMs;
  healthy = false;
  const broken = await w.run("plan");
  healthy = true;
  t.equal(broken.code, 4, "nothing would change, and a probe fails");
  t.match(broken.stdout, /! check http:.*failed: status 503, wanted 2xx/);
  t.equal(statSync(w.managed).mtimeMs, mtime, "the plan touched nothing");
});

t.test("validate: a bad check is a file:line error, exit 1", async (t) => {
  const w = recipes(t, "  - tcp: localhost\n");
  const r = await tend(["validate", join(w.dir, "repo")]);
  t.equal(r.code, 1);
  t.match(r.stderr + r.stdout, /web\/recipe\.yaml:5:10: checks\[0\]\.tcp: "localhost" is not HOST:PORT/);
});
