import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { exec } from "../../../agent/resources/exec.js";
import type { Json } from "../../../core/types.js";
import { context, type KindCase, resource, runCases } from "../../helpers/kind-harness.js";

const root = mkdtempSync(join(tmpdir(), "tend-exec-"));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const stateDir = join(root, "state");
const p = (name: string) => join(root, name);
const ex = (name: string, params: Record<string, Json>) =>
  resource("exec", name, { timeout: 300, ...params });
const ctx = (run: Record<string, Json> = {}) => context({ stateDir, run });

const cases: KindCase[] = [
  {
    name: "runs a command whose `creates` path is missing, and not once it exists",
    resource: ex("touch made", { argv: ["touch", p("made")], creates: p("made") }),
    expect: [{ property: "executed", from: false, to: true }],
    after: (t) => t.ok(existsSync(p("made"))),
  },
  {
    name: "runs a command while its `unless` guard fails",
    resource: ex("touch u", { argv: ["touch", p("u")], unless: ["test", "-e", p("u")] }),
    expect: [{ property: "executed" }],
  },
  {
    name: "does not run a command whose `onlyif` guard fails",
    resource: ex("touch o", { argv: ["touch", p("o")], onlyif: ["test", "-e", p("nothing-here")] }),
    expect: [],
    after: (t) => t.notOk(existsSync(p("o")), "the command did not run"),
  },
  {
    name: "runs a command whose `onlyif` guard passes until `unless` says done",
    resource: ex("touch both", {
      argv: ["touch", p("both")],
      onlyif: ["test", "-d", root],
      unless: ["test", "-e", p("both")],
    }),
    expect: [{ property: "executed" }],
  },
  {
    name: "never runs a refresh_only command from check",
    resource: ex("touch r", { argv: ["touch", p("r")], refresh_only: true }),
    expect: [],
    after: (t) => t.notOk(existsSync(p("r"))),
  },
];

runCases(t, exec, cases, () => ({ stateDir }));

t.test("an unguarded command runs once per run and reports its output", async (t) => {
  const r = ex("echo hi", { argv: ["echo", "hi"] });
  const run = {};
  const first = await exec.check(r, ctx(run));
  t.same(first.changes, [{ property: "executed", from: false, to: true }]);
  const res = await exec.apply(r, first.changes, ctx(run));
  t.equal(res?.output, "hi\n");
  t.same((await exec.check(r, ctx(run))).changes, [], "in sync for the rest of the run");
  t.same(await exec.refresh?.(r, ctx(run)), undefined, "a notification after it ran does not run it twice");
  t.same((await exec.check(r, ctx({}))).changes.length, 1, "the next run runs it again");
});

t.test("refresh runs a refresh_only command", async (t) => {
  const r = ex("touch refreshed", { argv: ["touch", p("refreshed")], refresh_only: true });
  await exec.refresh?.(r, ctx());
  t.ok(existsSync(p("refreshed")));
});

t.test("a parameter with shell syntax is one literal argument (TRUST C6)", async (t) => {
  const pwned = `/tmp/tendtest-pwned-${process.pid}`;
  const evil = `"; touch ${pwned} #`;
  const r = ex(`printf %s ${evil}`, { argv: ["printf", "%s", evil], unless: ["test", "-e", `${evil}`] });
  const res = await exec.apply(r, [], ctx());
  t.equal(res?.output, evil, "the argument arrives verbatim");
  t.notOk(existsSync(pwned), `${pwned} does not exist`);
});

t.test("env, cwd and shell", async (t) => {
  const r = ex("echo $FOO; pwd", {
    argv: ["/bin/sh", "-c", "echo $FOO; pwd"],
    shell: true,
    env: { FOO: "bar" },
    cwd: root,
  });
  const res = await exec.apply(r, [], ctx());
  t.equal(res?.output, `bar\n${root}\n`);
});

t.test("runs as another user with that user's ids and HOME", async (t) => {
  const r = ex("id", { argv: ["/bin/sh", "-c", 'echo "$(id -u) $(id -g) $HOME"'], user: "nobody" });
  const res = await exec.apply(r, [], ctx());
  t.equal(res?.output, "65534 65534 /nonexistent\n");
});

t.test("a failing command is a coded error with its exit code and last output", async (t) => {
  const r = ex("fail", { argv: ["/bin/sh", "-c", "echo boom >&2; exit 3"] });
  await t.rejects(exec.apply(r, [], ctx()), { code: "TEND_E_EXEC_FAILED", message: /exited 3[\s\S]*boom/ });
  const missing = ex("nope", { argv: ["/nonexistent/tend-no-such-program"] });
  await t.rejects(exec.apply(missing, [], ctx()), { code: "TEND_E_EXEC_FAILED", message: /ENOENT/ });
});

t.test("output is truncated to its last 8 KiB", async (t) => {
  const r = ex("big", { argv: ["/bin/sh", "-c", "head -c 20000 /dev/zero | tr '\\0' a; echo END"] });
  const res = await exec.apply(r, [], ctx());
  t.match(res?.output, /^\[output truncated to the last 8192 bytes\]\n/);
  t.match(res?.output, /a+END\n$/);
  t.ok((res?.output?.length ?? 0) < 8300);
});

t.test("a timeout kills the whole process group and leaves no orphans", async (t) => {
  const pidFile = p("timeout.pid");
  const r = ex("sleepers", {
    argv: ["/bin/sh", "-c", `echo $$ > ${pidFile}; sleep 300 & sleep 300 & wait`],
    timeout: 1,
  });
  await t.rejects(exec.apply(r, [], ctx()), { code: "TEND_E_EXEC_TIMEOUT" });
  const pgid = readFileSync(pidFile, "utf8").trim();
  const left = spawnSync("pgrep", ["-g", pgid], { encoding: "utf8" });
  t.equal(left.stdout, "", `nothing is left in process group ${pgid}`);
  t.equal(left.status, 1, "pgrep finds no process");
});

t.test("an aborted run stops the command", async (t) => {
  const ac = new AbortController();
  const r = ex("sleep", { argv: ["sleep", "300"] });
  setTimeout(() => ac.abort(), 100);
  const started = Date.now();
  await t.rejects(exec.apply(r, [], context({ stateDir, signal: ac.signal })));
  t.ok(Date.now() - started < 20_000, "it did not wait for the command");
});

t.test("an unknown user is a coded error", async (t) => {
  writeFileSync(p("x"), "");
  const r = ex("id", { argv: ["id"], user: "tendtest-nosuchuser" });
  await t.rejects(exec.apply(r, [], ctx()), { code: "TEND_E_UNKNOWN_OWNER" });
});
