/** Reports as an agent would send them. */
import { randomUUID } from "node:crypto";
import type { Report } from "../../core/types.js";

export function makeReport(
  node: string,
  commit: string | null,
  o: { drifted?: string[]; count?: number } = {},
): Report {
  const drifted = o.drifted ?? [];
  const ids = o.count
    ? Array.from({ length: o.count }, (_, i) => `file:/etc/tend-${i}`)
    : ["file:/etc/motd", "package:nginx", ...drifted.filter((d) => d !== "file:/etc/motd")];
  const resources = ids.map((id) => {
    const hit = drifted.includes(id);
    return {
      id,
      type: id.split(":")[0] as "file",
      status: hit ? ("changed" as const) : ("unchanged" as const),
      drifted: hit,
      changes: hit ? [{ property: "content", from: "old", to: "new" }] : [],
      diff: hit ? "--- a\n+++ b\n-old\n+new\n" : null,
      error: null,
      duration_ms: 1.5,
    };
  });
  return {
    format: 1,
    id: randomUUID(),
    node,
    commit,
    mode: "apply",
    status: drifted.length ? "changed" : "unchanged",
    started_at: new Date().toISOString(),
    duration_ms: 120,
    catalog_source: "server",
    catalog_age_s: 0,
    summary: {
      total: resources.length,
      changed: drifted.length,
      drifted: drifted.length,
      failed: 0,
      skipped: 0,
      unchanged: resources.length - drifted.length,
    },
    resources,
  };
}
