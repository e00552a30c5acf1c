/** The run's report: every resource's (and check's) outcome in catalog order, the summary, and the run's status. */
import { randomUUID } from "node:crypto";
import type { CheckReport, Report } from "../../core/types.js";
import { runStatus, summarize, summarizeChecks } from "../report.js";
import type { RunState } from "./run-state.js";

export function assembleReport(
  run: RunState,
  timing: { startedAt: Date; t0: number },
  error: string | null,
  checks?: CheckReport[],
): Report {
  const list = run.resources.map((res) => run.reports.get(res.id)!);
  const summary = checks ? { ...summarize(list), ...summarizeChecks(checks) } : summarize(list);
  return {
    format: 1,
    id: randomUUID(),
    node: run.catalog.node,
    commit: run.catalog.commit,
    mode: run.noop ? "noop" : "apply",
    status: runStatus(summary, error),
    started_at: timing.startedAt.toISOString(),
    duration_ms: Math.round(performance.now() - timing.t0),
    catalog_source: run.options.catalogSource ?? "local",
    catalog_age_s: run.options.catalogAgeS ?? 0,
    summary,
    ...(error ? { error } : {}),
    ...(run.options.trigger ? { trigger: run.options.trigger } : {}),
    resources: list,
    ...(checks ? { checks } : {}),
  };
}
