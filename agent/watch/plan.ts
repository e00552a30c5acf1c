/**
 * What watch mode watches: derived from the catalog a run applied, through each kind's `watch()`
 * (agent/resources/kind.ts), so neither this nor the daemon knows a kind by name. A run writes it
 * to `state_dir/watch.json` (when `watch: true`); the daemon reads it (plain JSON: the daemon loads
 * no kind, no verifier, no engine) and arms its watchers from it. The plan only says where to look
 * and which resource ids a change concerns: what is repaired, and how, comes from the verified
 * catalog in the run the daemon then starts.
 */
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import type { Catalog } from "../../core/types.js";
import type { Kind } from "../resources/kind.js";

export const PLAN_FILE = "watch.json";

export interface WatchPlan {
  format: 1;
  /** Absolute path → the ids of the resources a change there concerns. */
  paths: Record<string, string[]>;
  /** systemd unit → the ids of the resources a change of its state concerns. */
  units: Record<string, string[]>;
  /**
   * id → the ids it notifies (those that have any): a watch run converges those too, so their
   * events during it are its own.
   */
  notify: Record<string, string[]>;
}

/**
 * The plan for `catalog`: every resource whose kind says what to watch and that no recipe opted
 * out (`watch: false`). Packages are watched through `dpkgStatus`, which every install, removal
 * or upgrade rewrites.
 */
export function watchPlan(
  catalog: Catalog,
  kinds: Partial<Record<string, Kind>>,
  dpkgStatus: string,
): WatchPlan {
  const paths = new Map<string, string[]>();
  const units = new Map<string, string[]>();
  const notify: Record<string, string[]> = {};
  const add = (map: Map<string, string[]>, key: string, id: string) => {
    const list = map.get(key);
    if (!list) map.set(key, [id]);
    else if (!list.includes(id)) list.push(id);
  };
  for (const r of catalog.resources) {
    if (r.watch === false) continue;
    const spec = kinds[r.type]?.watch?.(r);
    if (!spec) continue;
    for (const p of spec.paths ?? []) add(paths, p, r.id);
    for (const u of spec.units ?? []) add(units, u, r.id);
    for (const _ of spec.packages ?? []) add(paths, dpkgStatus, r.id);
    if (r.notify.length > 0) notify[r.id] = [...r.notify];
  }
  return { format: 1, paths: Object.fromEntries(paths), units: Object.fromEntries(units), notify };
}

/** Every id the plan watches. */
export function plannedIds(plan: WatchPlan): Set<string> {
  const ids = new Set<string>();
  for (const list of [...Object.values(plan.paths), ...Object.values(plan.units)])
    for (const id of list) ids.add(id);
  return ids;
}

/** `ids` and, transitively, what they notify: the resources a watch run of `ids` converges. */
export function withNotified(plan: WatchPlan, ids: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const todo = [...ids];
  for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
    if (out.has(id)) continue;
    out.add(id);
    todo.push(...(plan.notify[id] ?? []));
  }
  return out;
}

/** Writes the plan (0600, temp file and rename) unless the file already holds it. */
export async function savePlan(stateDir: string, plan: WatchPlan): Promise<void> {
  const path = join(stateDir, PLAN_FILE);
  const text = `${JSON.stringify(plan)}\n`;
  if ((await fsp.readFile(path, "utf8").catch(() => null)) === text) return;
  const temp = `${path}.${process.pid}.tmp`;
  await fsp.writeFile(temp, text, { mode: 0o600 });
  await fsp.rename(temp, path);
}

/** The plan in `stateDir`, or null when there is none yet (no run since watch mode was turned on). */
export async function loadPlan(stateDir: string): Promise<WatchPlan | null> {
  let text: string;
  try {
    text = await fsp.readFile(join(stateDir, PLAN_FILE), "utf8");
  } catch {
    return null;
  }
  try {
    const data = JSON.parse(text) as Partial<WatchPlan>;
    if (data.format !== 1 || !isIdMap(data.paths) || !isIdMap(data.units) || !isIdMap(data.notify))
      return null;
    return { format: 1, paths: data.paths, units: data.units, notify: data.notify };
  } catch {
    return null;
  }
}

function isIdMap(v: unknown): v is Record<string, string[]> {
  if (!v || typeof v !== "object" || Array.isArray(v)) return false;
  return Object.values(v).every((ids) => Array.isArray(ids) && ids.every((id) => typeof id === "string"));
}
