/**
 * What a report means to a rollout: the node's state on the commit (changed, unchanged, failed) and,
 * when it failed, why, in one line (its error, the failed resources, the failed health checks).
 * Targeted runs (`trigger: watch`) and reports without a commit say nothing about the commit; so
 * does a report naming a commit its node was never served (the report route passes the vetted
 * report: commit null, the claim in `unverified_commit`), so a node is never counted on a commit it
 * could not have run (issue 15).
 */
import type { Report } from "../../core/types.js";
import type { ReportOutcome } from "./types.js";

export function reportOutcome(r: Report): ReportOutcome | null {
  if (!r.commit || r.trigger === "watch" || r.status === "stale") return null;
  const failedResources = r.resources.filter((x) => x.status === "failed" || x.status === "skipped");
  const failedChecks = (r.checks ?? []).filter((c) => c.status === "failed" || c.status === "skipped");
  const failed =
    r.status === "failed" ||
    r.summary.failed > 0 ||
    (r.summary.checks_failed ?? 0) > 0 ||
    failedResources.some((x) => x.status === "failed") ||
    failedChecks.some((c) => c.status === "failed");
  const why: string[] = [];
  if (r.error) why.push(r.error);
  for (const x of failedResources.slice(0, 3))
    why.push(`${x.id} ${x.status}${x.error ? `: ${x.error}` : ""}`);
  for (const c of failedChecks.slice(0, 3))
    why.push(`check ${c.id} ${c.status}${c.reason ? `: ${c.reason}` : ""}`);
  // In a plan, `changed` counts the resources that would change.
  const changed = r.summary.changed;
  return {
    node: r.node,
    id: r.id,
    commit: r.commit,
    noop: r.mode === "noop",
    state: failed ? "failed" : changed > 0 ? "changed" : "unchanged",
    changed,
    error: failed ? why.join("; ").slice(0, 1000) || `the run ${r.status}` : null,
  };
}
