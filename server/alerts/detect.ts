/**
 * What raises each condition, as data: a report (failing, drifted), the clock (stale) and the git
 * gate (refused-commit). Each returns the summary a person reads first and the details an alert
 * carries; reports are untrusted text, so every string taken from one is cut to a bounded size.
 */
import { formatProblem, type Problem } from "../../core/errors.js";
import type { Json, Report } from "../../core/types.js";
import { firstLine, type RaiseInput } from "./kinds.js";

/** At most this many resources, checks or problems are listed in one alert. */
const maxListed = 20;

/** The report's failed health checks (`checks`; absent from reports of agents before checks). */
function failedChecks(report: Report): { id: string; reason: string; excerpt: string | null }[] {
  return (report.checks ?? [])
    .filter((c) => c.status === "failed")
    .map((c) => ({
      id: firstLine(c.id, 200),
      reason: firstLine(c.reason),
      excerpt: c.excerpt ? firstLine(c.excerpt, 200) : null,
    }));
}

const more = (n: number) => (n > 0 ? ` (and ${n} more)` : "");

/** Why a failed run failed, in a few words: its first failed resource or check, or the run's error. */
export function failingInput(report: Report): RaiseInput {
  const failed = report.resources.filter((r) => r.status === "failed");
  const checks = failedChecks(report);
  let what: string;
  if (failed[0])
    what = `${failed[0].id} failed: ${firstLine(failed[0].error) || "no error given"}${more(failed.length - 1)}`;
  else if (checks[0])
    what = `check ${checks[0].id} failed: ${checks[0].reason || "no reason given"}${more(checks.length - 1)}`;
  else if (report.error) what = firstLine(report.error);
  else what = "its last run failed";
  return {
    node: report.node,
    summary: `${report.node} is failing: ${what}`,
    details: {
      report_id: report.id,
      commit: report.commit,
      mode: report.mode,
      started_at: report.started_at,
      error: report.error ? firstLine(report.error, 1000) : null,
      failed_resources: failed
        .slice(0, maxListed)
        .map((r) => ({ id: firstLine(r.id, 200), error: firstLine(r.error) })),
      failed_count: failed.length,
      skipped_count: report.resources.filter((r) => r.status === "skipped").length,
      failed_checks: checks.slice(0, maxListed),
      failed_checks_count: checks.length,
    },
  };
}

const jsonText = (v: Json) => firstLine(typeof v === "string" ? v : JSON.stringify(v), 80);

/** Resources the run put back: drift repaired (drifted and changed; a plan's would-change is not). */
export function repaired(report: Report): Report["resources"] {
  return report.resources.filter((r) => r.drifted && r.status === "changed");
}

export function driftedInput(report: Report): RaiseInput {
  const fixed = repaired(report);
  const ids = fixed.slice(0, 3).map((r) => firstLine(r.id, 120));
  return {
    node: report.node,
    summary: `${report.node} drifted: tend repaired ${fixed.length} resource${fixed.length === 1 ? "" : "s"} (${ids.join(", ")}${fixed.length > 3 ? ", …" : ""})`,
    details: {
      report_id: report.id,
      commit: report.commit,
      started_at: report.started_at,
      drifted_resources: fixed.slice(0, maxListed).map((r) => ({
        id: firstLine(r.id, 200),
        changes: r.changes
          .slice(0, 10)
          .map((c) => `${firstLine(c.property, 60)}: ${jsonText(c.from)} → ${jsonText(c.to)}`),
      })),
      drifted_count: fixed.length,
    },
  };
}

/**
 * Resources the agent's watch mode leaves alone because something else keeps changing them (a
 * fight: repaired more than its guard allows). A report lists all of them while any is contested.
 */
export function contestedInput(report: Report): RaiseInput {
  const ids = (report.contested ?? []).map((id) => firstLine(id, 200));
  return {
    node: report.node,
    summary: `${report.node}: ${ids.length} resource${ids.length === 1 ? " is" : "s are"} contested — something keeps changing ${ids.length === 1 ? "it" : "them"} back (${ids.slice(0, 3).join(", ")}${ids.length > 3 ? ", …" : ""}); watch mode leaves ${ids.length === 1 ? "it" : "them"} alone until the next scheduled run`,
    details: {
      report_id: report.id,
      commit: report.commit,
      started_at: report.started_at,
      contested_resources: ids.slice(0, maxListed),
      contested_count: ids.length,
    },
  };
}

/** The conditions a report puts its node in (failing, drifted, contested), by kind. */
export function reportConditions(report: Report): Map<string, RaiseInput> {
  const out = new Map<string, RaiseInput>();
  if (report.status === "failed") out.set("failing", failingInput(report));
  if (repaired(report).length > 0) out.set("drifted", driftedInput(report));
  if (report.contested?.length) out.set("contested", contestedInput(report));
  // The environment the node ran (docs/environments.md): a staging node failing pages differently.
  if (report.environment) {
    for (const input of out.values()) input.details.environment = firstLine(report.environment, 200);
  }
  return out;
}

/** The kinds a report wants open, as stored in `nodes.alerts`: sorted, comma-separated. */
export function wantedKinds(report: Report): string {
  const kinds: string[] = [];
  if (report.contested?.length) kinds.push("contested");
  if (repaired(report).length > 0) kinds.push("drifted");
  if (report.status === "failed") kinds.push("failing");
  return kinds.join(",");
}

/** "47 min", "2 h", "3 d". */
export function durationText(ms: number): string {
  const m = Math.round(ms / 60_000);
  if (m < 120) return `${m} min`;
  if (m < 2880) return `${Math.round(m / 60)} h`;
  return `${Math.round(m / 1440)} d`;
}

export interface StaleFacts {
  node: string;
  now: number;
  staleAfterMs: number;
  enrolledAt: number;
  lastReceived: number | null;
  lastReportId: string | null;
  lastReportAt: string | null;
  intervalS: number | null;
}

export function staleInput(f: StaleFacts): RaiseInput {
  const summary =
    f.lastReceived === null
      ? `${f.node} is stale: no report since it enrolled ${durationText(f.now - f.enrolledAt)} ago`
      : `${f.node} is stale: no report for ${durationText(f.now - f.lastReceived)}${f.intervalS ? ` (it runs every ${durationText(f.intervalS * 1000)})` : ""}`;
  return {
    node: f.node,
    summary,
    details: {
      last_report_id: f.lastReportId,
      last_report_at: f.lastReportAt,
      last_received_at: f.lastReceived === null ? null : new Date(f.lastReceived).toISOString(),
      stale_after_s: Math.round(f.staleAfterMs / 1000),
      interval_s: f.intervalS,
    },
  };
}

/** The subject of the refused-commit condition: there is one recipe repository. */
export const recipesSubject = "recipes";

export function refusedCommitInput(sha: string, summary: string, problems: Problem[]): RaiseInput {
  const first = problems[0] ? formatProblem(problems[0]) : summary;
  return {
    node: null,
    summary: `commit ${sha.slice(0, 8)} refused: ${firstLine(first)}${more(problems.length - 1)}`,
    details: {
      commit: sha,
      commit_summary: firstLine(summary, 500),
      problems: problems.slice(0, maxListed).map((p) => firstLine(formatProblem(p), 500)),
      problem_count: problems.length,
    },
  };
}
