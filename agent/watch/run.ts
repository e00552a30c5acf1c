/**
 * The run's side of watch mode (agent/run.ts calls these): which of the changed resources a watch
 * run converges, what it tells the fight guard and the report afterwards, and, after a scheduled
 * or manual run, the plan the daemon watches and a fresh guard.
 */
import type { Catalog, Report } from "../../core/types.js";
import type { Kind } from "../resources/kind.js";
import { DPKG_STATUS } from "../sys/dpkg.js";
import type { FightGuard, GuardLimits } from "./guard.js";
import { savePlan, watchPlan } from "./plan.js";

/** The ids a watch run converges: those that changed, less the contested ones it leaves alone. */
export function watchTargets(changed: readonly string[], guard: FightGuard): Set<string> {
  return new Set(changed.filter((id) => !guard.isContested(id)));
}

/**
 * After a watch run: each target it changed (a repair, not only a refresh it was owed) counts
 * towards the fight guard; a resource that goes past it is marked contested in the report, which
 * also lists every resource contested now (so an alert on it clears when a later report has none).
 * Whether the run is worth a report: it changed or failed something, or something became contested.
 */
export function afterWatchRun(
  report: Report,
  targets: ReadonlySet<string>,
  guard: FightGuard,
  limits: GuardLimits,
  now: number,
): boolean {
  const repaired = report.resources.filter(
    (r) => targets.has(r.id) && r.status === "changed" && r.changes.some((c) => c.property !== "refresh"),
  );
  const became = new Set(
    guard.record(
      repaired.map((r) => r.id),
      now,
      limits,
    ),
  );
  for (const r of report.resources) if (became.has(r.id)) r.contested = true;
  const contested = guard.contested();
  if (contested.length > 0) report.contested = contested;
  return report.status !== "unchanged" || became.size > 0;
}

/** After a scheduled or manual run: what the daemon watches now, and the fight starts over. */
export async function afterFullRun(
  catalog: Catalog,
  kinds: Partial<Record<string, Kind>>,
  guard: FightGuard,
  stateDir: string,
): Promise<void> {
  await savePlan(stateDir, watchPlan(catalog, kinds, DPKG_STATUS));
  if (!guard.isEmpty()) {
    guard.clear();
    await guard.save(stateDir);
  }
}
