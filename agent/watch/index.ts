/**
 * Watch mode, the daemon's side (`watch: true`): watches what the plan (agent/watch/plan.ts, written
 * by every scheduled or manual run) names — paths with inotify on their parent directories
 * (paths.ts; packages are dpkg's status file), units by following the journal (units.ts) — and on a
 * change asks the daemon for a watch run of the resources concerned (`tend agent run --trigger
 * watch --resource ID...`: a targeted converge from the cached, verified catalog).
 *
 * - Debounce: the first event of a burst starts a short timer and every event until it fires joins
 *   the same run, so an editor's rename, write and chmod are one repair, and a change made every few
 *   milliseconds still gets a run per window instead of waiting for quiet. The run's process is
 *   started at the first event (`prepare`) and gets the ids when the timer fires: its start-up
 *   (Node.js, the bundle, the modules a run loads) takes longer than the window, which so costs
 *   nothing; until it has the ids it holds no lock and changes nothing.
 * - tend's own writes: events about resources a run is converging (every resource, for a scheduled
 *   or manual run, whose lock file says a run holds `state_dir/lock`), during the run and a short
 *   grace after it, are dropped; events about other resources wait for the run to end.
 * - The fight guard (guard.ts): resources the last watch runs found contested are not watched until
 *   a scheduled or manual run clears them (the guard file in state_dir says which).
 *
 * Loaded by the daemon, so it loads no kind, no engine and no verifier: only node:fs and the plan.
 */
import { existsSync, type FSWatcher, watch } from "node:fs";
import { join } from "node:path";
import { LOCK_FILE } from "../lock.js";
import { FightGuard, GUARD_FILE } from "./guard.js";
import { PathWatcher } from "./paths.js";
import { loadPlan, PLAN_FILE, plannedIds, type WatchPlan, withNotified } from "./plan.js";
import { UnitWatcher } from "./units.js";

export interface WatchOptions {
  stateDir: string;
  log: (line: string) => void;
  /** Start a watch run of `ids`; false when a run cannot start now (it is asked again shortly). */
  repair: (ids: string[]) => boolean;
  /**
   * A burst has begun: a repair will be asked for when it is over. The daemon starts the run's
   * process now, so that it starts up while the burst goes on and only waits for the ids.
   */
  prepare?: () => void;
  /** The burst came to nothing to repair (every resource in it contested meanwhile). */
  dismiss?: () => void;
  /** How long a burst of events is gathered into one run, ms. */
  debounceMs?: number;
  /** How long after a run its resources' events are still taken as its own, ms. */
  graceMs?: number;
}

export const DEBOUNCE_MS = 100;
export const GRACE_MS = 250;

type Scope = ReadonlySet<string> | "all";

export class Watcher {
  private paths: PathWatcher | null = null;
  private units: UnitWatcher | null = null;
  private planText = "";
  private plan: WatchPlan | null = null;
  private readonly stateWatch: FSWatcher | null;
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private running: Scope | null = null;
  private grace: { scope: Scope; until: number } | null = null;
  private contested = new Set<string>();
  private closed = false;

  constructor(private readonly o: WatchOptions) {
    // The plan, the guard and the run lock live in state_dir: a run (the daemon's or one by hand)
    // that rewrites the plan or clears the guard is seen at once.
    let w: FSWatcher | null = null;
    try {
      w = watch(o.stateDir, (_e, name) => this.stateEvent(String(name)));
    } catch (err) {
      o.log(`watch: cannot watch ${o.stateDir}: ${(err as Error).message}`);
    }
    this.stateWatch = w;
  }

  static async start(o: WatchOptions): Promise<Watcher> {
    const w = new Watcher(o);
    await w.reload();
    return w;
  }

  /** A run of the daemon's starts: `scope` its resources (a watch run's), or "all". */
  runStarted(scope: Scope): void {
    this.running = scope;
  }

  runEnded(): void {
    if (this.running) this.grace = { scope: this.running, until: Date.now() + (this.o.graceMs ?? GRACE_MS) };
    this.running = null;
    void this.reload().then(() => this.schedule());
  }

  /** The pid of the journal follower (bench/watch.ts measures it with the daemon). */
  get followerPid(): number | undefined {
    return this.units?.pid;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.stateWatch?.close();
    this.paths?.close();
    this.units?.close();
  }

  /** Re-read the plan (re-arming when it changed) and the contested resources. */
  async reload(): Promise<void> {
    if (this.closed) return;
    this.contested = new Set((await FightGuard.load(this.o.stateDir)).contested());
    const plan = await loadPlan(this.o.stateDir);
    const text = JSON.stringify(plan);
    if (text === this.planText) {
      this.paths?.rearm();
      return;
    }
    this.planText = text;
    this.plan = plan;
    this.paths?.close();
    this.units?.close();
    this.paths = null;
    this.units = null;
    if (!plan || this.closed) {
      this.o.log("watch: no watch plan yet; watching starts after the next run");
      return;
    }
    const on = (ids: string[]) => this.changed(ids);
    this.paths = new PathWatcher(plan.paths, on, this.o.log);
    this.units = new UnitWatcher(plan.units, on, this.o.log);
    const n = plannedIds(plan).size;
    this.o.log(
      `watch: ${n} resource(s): ${Object.keys(plan.paths).length} path(s) in ${this.paths.watches} directory watch(es), ${Object.keys(plan.units).length} unit(s)`,
    );
  }

  private stateEvent(name: string): void {
    if (name === PLAN_FILE || name === GUARD_FILE) void this.reload();
    // A run by hand released the lock: its own writes may still be arriving.
    if (name === LOCK_FILE && !this.running && !this.lockHeld())
      this.grace = { scope: "all", until: Date.now() + (this.o.graceMs ?? GRACE_MS) };
  }

  private lockHeld(): boolean {
    return existsSync(join(this.o.stateDir, LOCK_FILE));
  }

  private changed(ids: string[]): void {
    const covers = (scope: Scope, id: string) => scope === "all" || scope.has(id);
    const grace = this.grace && Date.now() < this.grace.until ? this.grace.scope : null;
    // Without a run of ours, a held lock is a run by hand: all of the catalog is its scope.
    const running = this.running ?? (this.lockHeld() ? "all" : null);
    for (const id of ids) {
      if (this.contested.has(id)) continue;
      if (running && covers(running, id)) continue;
      if (grace && covers(grace, id)) continue;
      this.pending.add(id);
    }
    this.schedule();
  }

  private schedule(delay = this.o.debounceMs ?? DEBOUNCE_MS): void {
    if (this.timer || this.pending.size === 0 || this.running || this.closed) return;
    this.timer = setTimeout(() => this.fire(), delay);
    this.o.prepare?.();
  }

  private fire(): void {
    this.timer = null;
    if (this.running) return;
    if (this.pending.size === 0) {
      this.o.dismiss?.();
      return;
    }
    if (this.lockHeld()) {
      this.schedule(500); // a run by hand: ask again when it may be over
      return;
    }
    const ids = [...this.pending].filter((id) => !this.contested.has(id));
    this.pending.clear();
    if (ids.length === 0) {
      this.o.dismiss?.();
      return;
    }
    if (this.o.repair(ids)) {
      this.runStarted(this.plan ? withNotified(this.plan, ids) : new Set(ids));
      return;
    }
    for (const id of ids) this.pending.add(id);
    this.schedule(500);
  }
}
