/**
 * How an outcome is worded wherever it is shown (the CLI's plan output, the dashboard), so one
 * resource reads the same everywhere.
 */
import type { ResourceReport } from "./types.js";

/**
 * Why a planned resource's outcome is `unknown`: it comes after a change that has not been made.
 * Its check may have failed on the box as it is now (a service whose unit the plan would install);
 * that is said, but it is not a failure.
 */
export function unknownReason(r: Pick<ResourceReport, "changes" | "error">): string {
  const found = r.changes.filter((c) => c.property !== "refresh").map((c) => c.property);
  const parts = ["depends on a change above"];
  if (found.length > 0) parts.push(`as the box is now: ${found.join(", ")}`);
  if (r.error) parts.push(`checking it now fails: ${r.error.split("\n")[0]}`);
  return parts.join("; ");
}
