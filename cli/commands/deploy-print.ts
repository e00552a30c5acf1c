/**
 * `tend deploy` for people: a rollout as a plan (its waves and their nodes), one live line per wave
 * as it moves, and the status view (each node's state, with its report's address).
 */
import type { RolloutView } from "../../server/rollouts/view.js";

type Wave = RolloutView["waves"][number];

export const short = (sha: string | null) => (sha ? sha.slice(0, 12) : "none");

export function seconds(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function names(nodes: { node: string }[], max = 8): string {
  const shown = nodes.slice(0, max).map((n) => n.node);
  return shown.join(", ") + (nodes.length > max ? ` and ${nodes.length - max} more` : "");
}

/** `3 changed, 2 unchanged, 1 failed`: the settled states of these nodes. */
export function tally(nodes: { state: string }[]): string {
  const counts = new Map<string, number>();
  for (const n of nodes) counts.set(n.state, (counts.get(n.state) ?? 0) + 1);
  return ["changed", "unchanged", "failed", "running", "pending"]
    .filter((s) => counts.get(s))
    .map((s) => `${counts.get(s)} ${s}`)
    .join(", ");
}

/** What was started: the plan. */
export function startedText(r: RolloutView): string {
  const total = r.waves.reduce((n, w) => n + w.nodes.length, 0);
  const lines = [
    r.noop
      ? `preview ${r.id} of ${short(r.commit)}: ${total} node(s) plan it now and report what would change`
      : `rollout ${r.id} of ${short(r.commit)} (from ${short(r.from)}): ${total} node(s) in ${r.waves.length} wave(s), pause ${seconds(r.pause_ms)}, timeout ${seconds(r.timeout_ms)}`,
  ];
  for (const w of r.waves) lines.push(`  ${w.name.padEnd(8)} ${names(w.nodes)}`);
  return lines.join("\n");
}

/** The live line of a wave whose state just changed. */
export function waveLine(w: Wave): string {
  const label = w.name.padEnd(8);
  if (w.state === "running") return `${label} running   ${w.nodes.length} node(s): ${names(w.nodes, 5)}`;
  if (w.state === "pending") return `${label} waiting`;
  const took = w.started_at && w.ended_at ? `  (${seconds(w.ended_at - w.started_at)})` : "";
  if (w.state === "done") return `${label} done      ${tally(w.nodes)}${took}`;
  const failed = w.nodes.filter((n) => n.state === "failed");
  const why = failed.map((n) => `\n           ${n.node}: ${n.error ?? "failed"}`).join("");
  return `${label} failed    ${tally(w.nodes)}${took}${why}`;
}

/** The last line: how it ended, and what to type next. */
export function endText(r: RolloutView): string {
  if (r.state === "done") {
    const diff = r.noop
      ? `this commit would change ${r.changes.resources} resource(s) on ${r.changes.nodes} node(s)`
      : tally(r.waves.flatMap((w) => w.nodes));
    return `${r.noop ? "preview" : "rollout"} ${r.id} done in ${seconds(r.elapsed_ms)}: ${diff}`;
  }
  if (r.state === "halted")
    return `rollout ${r.id} halted: ${r.reason ?? "a wave failed"}\n  fix it, then: tend deploy --resume ${r.id}   or go back: tend deploy --abort ${r.id}`;
  return `rollout ${r.id} ${r.state}${r.reason ? `: ${r.reason}` : ""}`;
}

/** `tend deploy status ID`: everything about it, node by node. */
export function statusText(r: RolloutView, server: string): string {
  const lines = [
    `${r.noop ? "preview" : "rollout"} ${r.id}: ${r.state}${r.reason ? ` (${r.reason})` : ""}`,
    `  commit ${short(r.commit)}, from ${short(r.from)}, nodes ${r.nodes}, started by ${r.started_by}, elapsed ${seconds(r.elapsed_ms)}`,
    `  ${tally(r.waves.flatMap((w) => w.nodes))}`,
  ];
  if (r.noop)
    lines.push(`  this commit would change ${r.changes.resources} resource(s) on ${r.changes.nodes} node(s)`);
  for (const w of r.waves) {
    lines.push(`${w.name}: ${w.state}`);
    for (const n of w.nodes) {
      const report = n.report_id ? `  ${server}/ui/reports/${encodeURIComponent(n.report_id)}` : "";
      const changed = n.changed > 0 ? ` (${n.changed} change(s))` : "";
      lines.push(`  ${n.node.padEnd(24)} ${n.state}${changed}${report}`);
      if (n.error) lines.push(`    ${n.error}`);
    }
  }
  return lines.join("\n");
}
