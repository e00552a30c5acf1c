/**
 * One run at a time on a box: a lock file in state_dir that a killed run cannot leave stuck.
 *
 * Node has no flock, so the lock is a file whose existence means "held", holding the holder's
 * {pid, started_at, start_ticks, token}. It is created whole: written under a private temp name,
 * then hard-linked to `lock` (link fails with EEXIST when it exists: the atomic test-and-set).
 * A lock is stale when its pid is gone, or when /proc/PID/stat shows another process start time
 * (the pid was reused). Breaking a stale lock is itself guarded: the breaker first creates
 * `lock.break-TOKEN` with O_EXCL (TOKEN names the stale holder), then re-reads the lock and unlinks
 * it only if it still names that holder. Two waiters that both saw the same stale lock cannot both
 * break it, and nobody can unlink a newer lock by mistake. A break file whose creator died is
 * broken the same way, one level up.
 */
import { randomBytes } from "node:crypto";
import { promises as fsp, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { TendError } from "../core/errors.js";

export const LOCK_FILE = "lock";

export interface LockHolder {
  pid: number;
  started_at: string;
  /** Field 22 of /proc/PID/stat (start time in clock ticks since boot); null off Linux. */
  start_ticks: number | null;
  token: string;
}

export interface LockOptions {
  /** How long to wait for a live holder before giving up, in ms. */
  waitMs: number;
  /** How often to look again while waiting, in ms. */
  pollMs?: number;
}

export interface HeldLock {
  holder: LockHolder;
  release(): Promise<void>;
}

/** A process's start time in clock ticks since boot, or null when /proc cannot tell. */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

export function isAlive(holder: Pick<LockHolder, "pid" | "start_ticks">): boolean {
  if (!Number.isInteger(holder.pid) || holder.pid <= 0) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (holder.start_ticks === null) return true;
  const now = processStartTicks(holder.pid);
  return now === null || now === holder.start_ticks;
}

/** How long a lock file that holds no valid holder is given before it counts as debris. */
const DAMAGED_GRACE_MS = 2000;

async function readHolder(path: string): Promise<LockHolder | null> {
  let text: string;
  try {
    text = await fsp.readFile(path, "utf8");
  } catch (err) {
    // Gone (released meanwhile): the caller looks again.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  let data: Partial<LockHolder> | null = null;
  try {
    data = JSON.parse(text) as Partial<LockHolder>;
  } catch {
    data = null;
  }
  if (data && typeof data.pid === "number" && typeof data.token === "string") {
    return {
      pid: data.pid,
      started_at: String(data.started_at ?? "?"),
      start_ticks: typeof data.start_ticks === "number" ? data.start_ticks : null,
      token: data.token,
    };
  }
  // Empty or not a lock we wrote (a crash at the wrong moment, a hand edit): once it is older than
  // any write in progress could be, it is a dead holder that the usual stale-lock path removes.
  const st = await fsp.stat(path).catch(() => null);
  if (!st) return null;
  const age = Date.now() - st.mtimeMs;
  return {
    pid: age > DAMAGED_GRACE_MS ? 0 : process.pid,
    started_at: new Date(st.mtimeMs).toISOString(),
    start_ticks: null,
    token: `damaged-${st.ino}-${Math.round(st.mtimeMs)}`,
  };
}

/** Create `path` holding `holder`, atomically and whole; false when it already exists. */
async function createExclusive(path: string, holder: LockHolder): Promise<boolean> {
  const temp = `${path}.${holder.token}.tmp`;
  // Written and synced before it is linked into place: a power loss never leaves an empty lock.
  const fh = await fsp.open(temp, "wx", 0o600);
  try {
    await fh.writeFile(JSON.stringify(holder));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.link(temp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    await fsp.unlink(temp).catch(() => {});
  }
}

/**
 * Remove the lock at `path` if its holder is dead. Returns the live holder, or null when the lock
 * is gone (removed here or by someone else) and the caller should try again.
 */
async function breakIfStale(path: string, me: LockHolder, depth = 0): Promise<LockHolder | null> {
  const holder = await readHolder(path);
  if (!holder || isAlive(holder)) return holder;
  if (depth > 3) return holder; // a chain of dead breakers: keep waiting rather than recurse forever
  const guard = `${join(path, "..", LOCK_FILE)}.break-${holder.token}`;
  if (!(await createExclusive(guard, me))) {
    // Someone is breaking it, or died doing so: break their guard, then look again.
    await breakIfStale(guard, me, depth + 1);
    return null;
  }
  try {
    const again = await readHolder(path);
    if (again?.token === holder.token) await fsp.unlink(path).catch(() => {});
  } finally {
    await fsp.unlink(guard).catch(() => {});
  }
  return null;
}

/** Take the run lock in `stateDir` (which must exist), waiting up to `waitMs` for a live holder. */
export async function acquireLock(stateDir: string, options: LockOptions): Promise<HeldLock> {
  const path = join(stateDir, LOCK_FILE);
  const me: LockHolder = {
    pid: process.pid,
    started_at: new Date().toISOString(),
    start_ticks: processStartTicks(process.pid),
    token: `${process.pid}-${randomBytes(6).toString("hex")}`,
  };
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    if (await createExclusive(path, me)) {
      await sweepTemps(stateDir);
      return held(path, me);
    }
    const holder = await breakIfStale(path, me);
    if (!holder) {
      // Released or broken meanwhile: try again at once, but never spin past the deadline.
      if (Date.now() >= deadline + 5000) {
        throw new TendError("TEND_E_LOCKED", `the run lock in ${stateDir} keeps changing hands; try again`);
      }
      await sleep(5);
      continue;
    }
    if (Date.now() >= deadline) throw lockedError(stateDir, holder, options.waitMs);
    await sleep(Math.min(options.pollMs ?? 100, Math.max(1, deadline - Date.now())));
  }
}

/** Temp files of lock attempts whose process died between writing and removing them. */
async function sweepTemps(stateDir: string): Promise<void> {
  for (const name of await fsp.readdir(stateDir)) {
    const m = /^lock\.(?:.*\.)?(\d+)-[0-9a-f]{12}\.tmp$/.exec(name);
    if (m && !isAlive({ pid: Number(m[1]), start_ticks: null }))
      await fsp.unlink(join(stateDir, name)).catch(() => {});
  }
}

function held(path: string, me: LockHolder): HeldLock {
  return {
    holder: me,
    async release() {
      const holder = await readHolder(path).catch(() => null);
      if (holder?.token === me.token) await fsp.unlink(path).catch(() => {});
    },
  };
}

function lockedError(stateDir: string, holder: LockHolder, waitMs: number): TendError {
  const waited = waitMs >= 1000 ? `${Math.round(waitMs / 100) / 10} s` : `${waitMs} ms`;
  return new TendError(
    "TEND_E_LOCKED",
    `another tend run holds the lock in ${stateDir}: pid ${holder.pid}, started ${holder.started_at}. ` +
      `Waited ${waited}; try again when it has finished, or pass --wait SECONDS to wait longer.`,
  );
}
