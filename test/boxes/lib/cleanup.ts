import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { basename, join } from "node:path";
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

function readlinkOr(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** The overlay upper directories that are "/" for each mount namespace, keyed by namespace. */
function rootUppers(): (pid: number) => string | undefined {
  const byNs = new Map<string, string | undefined>();
  return (pid) => {
    const ns = readlinkOr(`/proc/${pid}/ns/mnt`);
    if (ns === undefined) return undefined;
    if (!byNs.has(ns)) {
      let info = "";
      try {
        info = readFileSync(`/proc/${pid}/mountinfo`, "utf8");
      } catch {
        // Gone meanwhile.
      }
      const root = info.split("\n").find((line) => line.split(" ")[4] === "/");
      byNs.set(ns, / - overlay .*\bupperdir=([^,\s]+)/.exec(root ?? "")?.[1]);
    }
    return byNs.get(ns);
  };
}

/**
 * Which box (its directory) each process belongs to, if any: a box's systemd-nspawn names the
 * box root in its `-D` argument; everything else in the box (its systemd, services, commands we
 * run with nsenter) has the box's overlay as its root file system. Found from /proc alone, so it
 * works for boxes whose owner was killed, whose nspawn died, or whose directory is gone.
 */
function processesByBox(): Map<number, string> {
  const upperOf = rootUppers();
  const owned = new Map<number, string>();
  const inBoxes = `${boxesDir}/${boxDirPrefix}`;
  for (const pid of pids()) {
    if (pid === process.pid) continue;
    const upper = upperOf(pid);
    const arg = cmdline(pid).find((a) => a.startsWith(inBoxes));
    const path = upper?.startsWith(inBoxes) ? upper : arg;
    // From ".../tend-box-X/upper" or ".../tend-box-X/root" keep ".../tend-box-X".
    if (path) owned.set(pid, `${inBoxes}${path.slice(inBoxes.length).split("/")[0]}`);
  }
  return owned;
}

/** Processes of the boxes whose directories start with `dirPrefix` (a box dir and "/", say). */
export function boxProcesses(dirPrefix: string): number[] {
  return [...processesByBox()].filter(([, dir]) => `${dir}/`.startsWith(dirPrefix)).map(([pid]) => pid);
}

/**
 * SIGKILLs the box's processes. Its systemd goes first (which ends everything in its pid
 * namespace) so that systemd-nspawn is still there to reap it; an orphaned container init
 * would linger as a zombie of the host's PID 1.
 */
function killAll(dir: string, nspawnToo: boolean): void {
  for (const pid of boxProcesses(`${dir}/`)) {
    if (!nspawnToo && cmdline(pid)[0]?.endsWith("systemd-nspawn")) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/**
 * Stops whatever still runs in the box at `dir`, unmounts it and deletes it. Safe to call on a
 * half-made box, and on one whose directory is already gone.
 */
export async function removeBoxDir(dir: string): Promise<void> {
  for (let i = 0; i < 50 && boxProcesses(`${dir}/`).length > 0; i++) {
    killAll(dir, i > 2);
    await sleep(100);
  }
  const left = boxProcesses(`${dir}/`);
  if (left.length > 0) throw new Error(`box ${dir}: processes ${left.join(", ")} survive SIGKILL`);
  await removeTree(dir);
}

/**
 * Unmounts everything below `dir`, then deletes it. Never walks into a mount: a leftover bind
 * (of the tend checkout, or /dev from a killed debootstrap) must not be emptied with it.
 */
export async function removeTree(dir: string): Promise<void> {
  for (const mount of mountsUnder(dir)) {
    const r = await run(["umount", mount]);
    if (r.code !== 0) await run(["umount", "--lazy", mount]);
  }
  const mounted = mountsUnder(dir);
  if (mounted.length > 0) throw new Error(`${dir}: still mounted: ${mounted.join(", ")}`);
  const r = await run(["rm", "-rf", "--one-file-system", dir]);
  if (r.code !== 0) throw new Error(`rm -rf ${dir} failed: ${r.stderr.toString().trim()}`);
}

/**
 * Removes boxes left behind by test runs that were killed before their teardown ran: those whose
 * owner process is gone. Boxes of live processes (parallel test files, other checkouts sharing
 * the cache) are left alone.
 */
export async function sweepLeakedBoxes(): Promise<string[]> {
  const candidates = new Set([...boxDirs(), ...processesByBox().values()]);
  const leaked = [...candidates].filter((dir) => {
    const o = owner(basename(dir));
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
    processes: boxProcesses(prefix),
  };
}

/**
 * Last resort when the test process exits with boxes still up (an uncaught error skipped the
 * teardown): kill their processes and detach their mounts synchronously, which is all an exit
 * handler may do. The directories stay for the next run's sweep.
 */
export function killBoxesNow(dirs: Iterable<string>): void {
  for (const dir of dirs) {
    killAll(dir, true);
    for (const mount of mountsUnder(dir)) {
      try {
        execFileSync("umount", ["--lazy", mount], { stdio: "ignore" });
      } catch {
        // Nothing more an exit handler can do; the next sweep retries.
      }
    }
  }
}
