import { spawnSync } from "node:child_process";
import t from "tap";
import { run } from "../../../agent/sys/proc.js";

t.test("captures exit code, stdout and stderr of an argv", async (t) => {
  const r = await run(["/bin/sh", "-c", "echo out; echo err >&2; exit 4"]);
  t.equal(r.code, 4);
  t.equal(r.stdout, "out\n");
  t.equal(r.stderr, "err\n");
  t.equal(r.timedOut, false);
});

t.test("a group that ignores SIGTERM gets SIGKILL after the grace period; none survive", async (t) => {
  const r = await run(["/bin/sh", "-c", "trap '' TERM; sleep 300 & sleep 300 & echo $$; wait"], {
    timeoutMs: 300,
    killGraceMs: 300,
  });
  t.equal(r.timedOut, true);
  t.equal(r.signal, "SIGKILL", "the leader ignored SIGTERM and was killed");
  const pgid = r.stdout.trim();
  t.match(pgid, /^\d+$/);
  t.equal(spawnSync("pgrep", ["-g", pgid]).status, 1, `no process left in group ${pgid}`);
});

t.test("returns when the command exits even if a daemonised child keeps the pipes open", async (t) => {
  const r = await run(["/bin/sh", "-c", "sleep 3 & echo started"]);
  t.equal(r.code, 0);
  t.equal(r.stdout, "started\n");
  spawnSync("pkill", ["-g", String(r.pid)]);
});

t.test("input is written to stdin", async (t) => {
  const r = await run(["cat"], { input: "abc" });
  t.equal(r.stdout, "abc");
});

t.test("a program that does not exist rejects with ENOENT", async (t) => {
  await t.rejects(run(["/nonexistent/tend-nothing"]), { code: "ENOENT" });
});
