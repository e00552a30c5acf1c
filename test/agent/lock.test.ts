/**
 * The run lock (TRUST.md G2, I3): one holder at a time, a clear refusal naming the holder, and no
 * way for a dead holder (killed, or its pid reused) to block the next run.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { acquireLock, LOCK_FILE, processStartTicks } from "../../agent/lock.js";
import { isTendError } from "../../core/errors.js";

function tempState(tt: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "tend-lock-"));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const root = new URL("../../", import.meta.url).pathname;

/** A child process that takes the lock, prints "held" (or "locked"), then holds it for `holdMs`. */
function holder(stateDir: string, holdMs: number): ChildProcess {
  const code = `
    const { acquireLock } = await import(${JSON.stringify(`${root}agent/lock.ts`)});
    try {
      const lock = await acquireLock(${JSON.stringify(stateDir)}, { waitMs: 0 });
      process.stdout.write("held\\n");
      await new Promise((r) => setTimeout(r, ${holdMs}));
      await lock.release();
    } catch (err) {
      process.stdout.write(err.code === "TEND_E_LOCKED" ? "locked\\n" : "error " + err.message + "\\n");
    }`;
  return spawn(
    process.execPath,
    ["--import", `${root}node_modules/tsx/dist/esm/index.mjs`, "--input-type=module", "-e", code],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve(out.split("\n")[0]!);
    });
    child.on("exit", () => resolve(out.split("\n")[0]!));
  });
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.on("exit", () => resolve()),
  );

/** The pid of a process that has exited and been reaped. */
function deadPid(): number {
  return Number(
    spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString(),
  );
}

t.test("a second taker is refused with the holder's pid and start time; release frees it", async (t) => {
  const dir = tempState(t);
  const lock = await acquireLock(dir, { waitMs: 0 });
  const onDisk = JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8"));
  t.equal(onDisk.pid, process.pid);
  t.equal(onDisk.start_ticks, processStartTicks(process.pid));
  const err = await acquireLock(dir, { waitMs: 150, pollMs: 20 }).catch((e: unknown) => e);
  t.ok(isTendError(err) && err.code === "TEND_E_LOCKED");
  t.match((err as Error).message, `pid ${process.pid}, started ${lock.holder.started_at}`);
  t.equal((err as { exitCode: number }).exitCode, 1);
  await lock.release();
  t.notOk(existsSync(join(dir, LOCK_FILE)));
  const again = await acquireLock(dir, { waitMs: 0 });
  await again.release();
});

t.test("a waiter gets the lock when the holder releases within the wait", async (t) => {
  const dir = tempState(t);
  const first = await acquireLock(dir, { waitMs: 0 });
  setTimeout(() => void first.release(), 200);
  const second = await acquireLock(dir, { waitMs: 10_000, pollMs: 20 });
  t.equal(second.holder.pid, process.pid);
  await second.release();
});

t.test("a lock whose pid is gone is stale", async (t) => {
  const dir = tempState(t);
  const pid = deadPid();
  writeFileSync(
    join(dir, LOCK_FILE),
    JSON.stringify({ pid, started_at: "then", start_ticks: 1, token: `${pid}-aaaaaaaaaaaa` }),
  );
  const lock = await acquireLock(dir, { waitMs: 0 });
  t.equal(lock.holder.pid, process.pid);
  await lock.release();
});

t.test("a lock whose pid now belongs to another process (pid reuse) is stale", async (t) => {
  const dir = tempState(t);
  const ticks = processStartTicks(process.pid)!;
  const stale = {
    pid: process.pid,
    started_at: "long ago",
    start_ticks: ticks - 1,
    token: `${process.pid}-bbbbbbbbbbbb`,
  };
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify(stale));
  const lock = await acquireLock(dir, { waitMs: 0 });
  t.not(lock.holder.token, stale.token);
  await lock.release();
});

t.test("a holder killed with SIGKILL does not block the next taker", async (t) => {
  const dir = tempState(t);
  const child = holder(dir, 60_000);
  t.equal(await firstLine(child), "held");
  const refused = await acquireLock(dir, { waitMs: 0 }).catch((e: Error) => e);
  t.match((refused as Error).message, `pid ${child.pid},`);
  child.kill("SIGKILL");
  await exited(child);
  const lock = await acquireLock(dir, { waitMs: 0 });
  t.equal(lock.holder.pid, process.pid);
  await lock.release();
});

t.test("of several processes racing for a stale lock, exactly one gets it", async (t) => {
  const dir = tempState(t);
  const pid = deadPid();
  writeFileSync(
    join(dir, LOCK_FILE),
    JSON.stringify({ pid, started_at: "then", start_ticks: 1, token: `${pid}-cccccccccccc` }),
  );
  const children = Array.from({ length: 6 }, () => holder(dir, 5_000));
  const outcomes = await Promise.all(children.map(firstLine));
  t.same(outcomes.slice().sort(), ["held", "locked", "locked", "locked", "locked", "locked"]);
  await Promise.all(children.map(exited));
  t.same(
    readdirSync(dir).filter((f) => f !== LOCK_FILE),
    [],
    "no guard or temp file is left behind",
  );
});

t.test("temp files of lock attempts that died are swept", async (t) => {
  const dir = tempState(t);
  const pid = deadPid();
  const leftover = `lock.${pid}-dddddddddddd.tmp`;
  writeFileSync(join(dir, leftover), "{}");
  const lock = await acquireLock(dir, { waitMs: 0 });
  t.notOk(existsSync(join(dir, leftover)));
  await lock.release();
});

t.test(
  "a damaged lock file (empty, or not ours) is debris once it is older than a write could be",
  async (t) => {
    for (const content of ["", "{}", "not json"]) {
      const dir = mkdtempSync(join(tmpdir(), "tend-lock-damaged-"));
      writeFileSync(join(dir, LOCK_FILE), content);
      const old = new Date(Date.now() - 60_000);
      await import("node:fs/promises").then((fs) => fs.utimes(join(dir, LOCK_FILE), old, old));
      const lock = await acquireLock(dir, { waitMs: 1000 });
      t.equal(lock.holder.pid, process.pid, `taken over a lock holding ${JSON.stringify(content)}`);
      await lock.release();
    }
  },
);

t.test("a damaged lock file that was just written is waited for, with a bounded wait", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tend-lock-fresh-"));
  writeFileSync(join(dir, LOCK_FILE), "{}");
  // Before the fix this spun forever at full CPU; now it gives up like any other wait.
  await t.rejects(acquireLock(dir, { waitMs: 300 }), { code: "TEND_E_LOCKED" });
});
