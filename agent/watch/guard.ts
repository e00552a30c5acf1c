/**
 * Watch mode's fight guard: when something else keeps changing a resource (a cron job, another
 * tool, a person who disagrees), repairing it at every change is a fight nobody wins and a storm of
 * runs and reports. A resource repaired by watch runs more than `repairs` times within `windowS`
 * is **contested**: watch runs leave it alone and their reports list it, until the next scheduled
 * or manual run, which converges it as usual and clears the guard.
 *
 * `state_dir/watch-guard.json`: the times of each resource's recent watch repairs, and the
 * contested resources with when they became so. Written by watch runs (under the run lock), read
 * by the daemon after each of them to stop watching the contested ones.
 */
import { promises as fsp } from "node:fs";
import { join } from "node:path";

export const GUARD_FILE = "watch-guard.json";

export interface GuardLimits {
  repairs: number;
  windowS: number;
}

interface GuardData {
  format: 1;
  /** id → times (ms) of its watch repairs within the window. */
  repairs: Record<string, number[]>;
  /** id → when (ms) it became contested. */
  contested: Record<string, number>;
}

export class FightGuard {
  private constructor(private data: GuardData) {}

  static empty(): FightGuard {
    return new FightGuard({ format: 1, repairs: {}, contested: {} });
  }

  static async load(stateDir: string): Promise<FightGuard> {
    try {
      const data = JSON.parse(await fsp.readFile(join(stateDir, GUARD_FILE), "utf8")) as Partial<GuardData>;
      if (data.format === 1 && data.repairs && data.contested)
        return new FightGuard({ format: 1, repairs: data.repairs, contested: data.contested });
    } catch {
      // Missing or damaged: nothing is contested, which errs towards repairing.
    }
    return FightGuard.empty();
  }

  /** The contested ids, in the order they became so. */
  contested(): string[] {
    return Object.entries(this.data.contested)
      .sort((a, b) => a[1] - b[1])
      .map(([id]) => id);
  }

  isContested(id: string): boolean {
    return id in this.data.contested;
  }

  /** Count one watch repair of each of `ids` at `now`; returns those that have just become contested. */
  record(ids: readonly string[], now: number, limits: GuardLimits): string[] {
    const since = now - limits.windowS * 1000;
    const became: string[] = [];
    for (const id of ids) {
      const times = [...(this.data.repairs[id] ?? []).filter((t) => t > since), now];
      this.data.repairs[id] = times;
      if (times.length > limits.repairs && !this.isContested(id)) {
        this.data.contested[id] = now;
        became.push(id);
      }
    }
    // Forget resources whose repairs have all left the window.
    for (const [id, times] of Object.entries(this.data.repairs))
      if (!times.some((t) => t > since)) delete this.data.repairs[id];
    return became;
  }

  /** A scheduled or manual run converged everything: the fight, if any, starts over. */
  clear(): void {
    this.data = { format: 1, repairs: {}, contested: {} };
  }

  isEmpty(): boolean {
    return Object.keys(this.data.repairs).length === 0 && Object.keys(this.data.contested).length === 0;
  }

  /** Saved (0600, temp file and rename), or removed when empty: most boxes never have the file. */
  async save(stateDir: string): Promise<void> {
    const path = join(stateDir, GUARD_FILE);
    if (this.isEmpty()) {
      await fsp.rm(path, { force: true });
      return;
    }
    const temp = `${path}.${process.pid}.tmp`;
    await fsp.writeFile(temp, `${JSON.stringify(this.data)}\n`, { mode: 0o600 });
    await fsp.rename(temp, path);
  }
}
