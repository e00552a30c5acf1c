/**
 * A run's report as data: the summary counts, the run status and the exit code derived from the
 * per-resource outcomes (PRODUCT.md; Puppet's detailed exit codes).
 */
import { isTendError } from "../core/errors.js";
import type { CheckReport, Report, ResourceReport } from "../core/types.js";

export const EXIT = { ok: 0, couldNotStart: 1, changes: 2, failures: 4 } as const;

export function summarize(resources: readonly ResourceReport[]): Report["summary"] {
  const s = {
    total: resources.length,
    changed: 0,
    drifted: 0,
    failed: 0,
    skipped: 0,
    unchanged: 0,
    unknown: 0,
  };
  for (const r of resources) {
    if (r.status === "changed" || r.status === "would-change") s.changed++;
    else if (r.status === "failed") s.failed++;
    else if (r.status === "skipped") s.skipped++;
    else if (r.status === "unchanged") s.unchanged++;
    else if (r.status === "unknown") s.unknown++;
    if (r.drifted) s.drifted++;
  }
  return s;
}

/** The checks' counts for the summary (a report carries them only when its catalog has checks). */
export function summarizeChecks(
  checks: readonly CheckReport[],
): Required<Pick<Report["summary"], "checks_total" | "checks_failed" | "checks_skipped">> {
  let failed = 0;
  let skipped = 0;
  for (const c of checks) {
    if (c.status === "failed") failed++;
    else if (c.status === "skipped") skipped++;
  }
  return { checks_total: checks.length, checks_failed: failed, checks_skipped: skipped };
}

/**
 * Failures of the run: resources failed or skipped, checks failed or skipped (a check is skipped
 * when a resource it requires failed, or when the run was stopped before it could answer).
 */
function failures(s: Report["summary"]): boolean {
  return s.failed > 0 || s.skipped > 0 || (s.checks_failed ?? 0) > 0 || (s.checks_skipped ?? 0) > 0;
}

export function runStatus(summary: Report["summary"], error?: string | null): Report["status"] {
  if (failures(summary) || error) return "failed";
  return summary.changed > 0 ? "changed" : "unchanged";
}

/** 0 nothing to do, 2 changes (or would-changes in noop), 4 failures (a failed check too), 6 both. */
export function exitCode(report: Report): number {
  const s = report.summary;
  const unknown = s.total - s.changed - s.failed - s.skipped - s.unchanged;
  const changes = s.changed > 0 || unknown > 0 ? EXIT.changes : 0;
  return changes | (failures(s) || report.error ? EXIT.failures : 0);
}

/** An error as one line a person reads: the message, with its code when it has one. */
export function errorText(err: unknown): string {
  const text = (err instanceof Error ? err.message : String(err)).trimEnd();
  if (!isTendError(err)) return text;
  // The code goes on the first line, where a reader (and grep) looks.
  const [first, ...rest] = text.split("\n");
  return [`${first} [${err.code}]`, ...rest].join("\n");
}
