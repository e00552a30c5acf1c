import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { boxDirPrefix, boxesDir } from "./paths.js";
import { cmdline, isAlive, mountPoints, mountsUnder, pids, run, sleep, startTime } from "./proc.js";

/** What a box directory's name says about who made it: `tend-box-<pid>.<start ticks>-<random>`. */
export function boxDirName(ownerPid = process.pid): string {
  const random = Math.random().toString(36).slice(2, 8);
  return `${boxDirPrefix}${ownerPid}.${startTime(ownerPid) ?? "0"}-${random}`;
}

function owner(name: string): { pid: number; start: string } | undefined {
  const m = /^tend-box-(\d+)\.(\d+)-/.exec(name);
  return m?.[1] && m[2] ? { pid: Number(m[1]), start: m[2] } : undefined;
}

/** Box directories made by the process `ownerPid` (all of them when omitted). */
export function boxDirs(ownerPid?: number): string[] {
  if (!existsSync(boxesDir)) return [];
  return readdirSync(boxesDir)
    .filter((name) => name.startsWith(boxDirPrefix))
    .filter((name) => ownerPid === undefined || owner(name)?.pid === ownerPid)
    .map((name) => join(boxesDir, name));
}

function rootOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/root`);
  } catch {
    return undefined;
  }
}

/**
 * Every process that belongs to the box in `dir`: its systemd-nspawn (found by its `-D` argument)
 * and everything whose root directory is the box's root (its systemd, services, and commands we
 * started in it with nsenter). Found from /proc, so it works for boxes whose owner was killed.
 */
export function boxProcesses(dir: string): number[] {
  const root = join(dir, "root");
  return pids().filter((pid) => {
    if (pid === process.pid) return false;
    const r = rootOf(pid);
    return r === root || r?.startsWith(`${root}/`) || cmdline(pid).includes(root);
  });
}

function killAll(dir: string): void {
  for (const pid of boxProcesses(dir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/**
 * Stops whatever still runs in the box at `dir`, unmounts it and deletes it. Safe to call on a
 * half-made box. Refuses to delete while anything is still mounted below `dir`: `rm` must never
 * walk into a mount (a bind of the tend checkout, say).
 */
export async function removeBoxDir(dir: string): Promise<void> {
  for (let i = 0; i < 50 && boxProcesses(dir).length > 0; i++) {
    killAll(dir);
    await sleep(100);
  }
  const left = boxProcesses(dir);
  if (left.length > 0) throw new Error(`box ${dir}: processes ${left.join(", ")} survive SIGKILL`);
  for (const mount of mountsUnder(dir)) {
    const r = await run(["umount", mount]);
    if (r.code !== 0) await run(["umount", "--lazy", mount]);
  }
  const mounted = mountsUnder(dir);
  if (mounted.length > 0) throw new Error(`box ${dir}: still mounted: ${mounted.join(", ")}`);
  const r = await run(["rm", "-rf", "--one-file-system", dir]);
  if (r.code !== 0) throw new Error(`rm -rf ${dir} failed: ${r.stderr.toString().trim()}`);
}

/**
 * Removes boxes left behind by test runs that were killed before their teardown ran: those whose
 * owner process is gone. Boxes of live processes (parallel test files, other checkouts sharing
 * the cache) are left alone.
 */
export async function sweepLeakedBoxes(): Promise<string[]> {
  const leaked = boxDirs().filter((dir) => {
    const o = owner(dir.slice(boxesDir.length + 1));
    return o === undefined || !isAlive(o.pid, o.start);
  });
  for (const dir of leaked) await removeBoxDir(dir);
  return leaked;
}

/** What boxes of `ownerPid` left behind: directories, mounts and processes; all empty when clean. */
export function leftovers(ownerPid = process.pid): { dirs: string[]; mounts: string[]; processes: number[] } {
  const prefix = join(boxesDir, `${boxDirPrefix}${ownerPid}.`);
  return {
    dirs: boxDirs(ownerPid),
    mounts: mountPoints().filter((p) => p.startsWith(prefix)),
    processes: pids().filter((pid) => {
      const r = rootOf(pid);
      return r?.startsWith(prefix) || cmdline(pid).some((arg) => arg.startsWith(prefix));
    }),
  };
}

/**
 * Last resort when the test process exits with boxes still up (an uncaught error skipped the
 * teardown): kill their processes and detach their mounts synchronously, which is all an exit
 * handler may do. The directories stay for the next run's sweep.
 */
export function killBoxesNow(dirs: Iterable<string>): void {
  for (const dir of dirs) {
    killAll(dir);
    for (const mount of mountsUnder(dir)) {
      try {
        execFileSync("umount", ["--lazy", mount], { stdio: "ignore" });
      } catch {
        // Nothing more an exit handler can do; the next sweep retries.
      }
    }
  }
}
