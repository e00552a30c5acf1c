/**
 * A rollout as the API, `tend deploy status --json` and the dashboard show it: its settings and
 * state, how long it has run, how many nodes are in each state, and its waves with their nodes
 * (each with the report that settled it). For a preview (`noop`), the fleet-wide diff: how many
 * resources would change on how many nodes.
 */
import type { NodeState, RolloutDetail, RolloutRecord } from "./types.js";

export const nodeStates: NodeState[] = ["pending", "running", "changed", "unchanged", "failed"];

export interface RolloutSummary {
  id: number;
  commit: string;
  from: string | null;
  state: string;
  noop: boolean;
  nodes: string;
  canary: string;
  pause_ms: number;
  timeout_ms: number;
  started_by: string;
  started_at: number;
  ended_at: number | null;
  elapsed_ms: number;
  reason: string | null;
}

export interface RolloutView extends RolloutSummary {
  counts: Record<NodeState, number>;
  /** Resources changed (a preview: that would change), and on how many nodes. */
  changes: { resources: number; nodes: number };
  waves: {
    index: number;
    name: string;
    state: string;
    started_at: number | null;
    ended_at: number | null;
    not_before: number | null;
    nodes: {
      node: string;
      state: NodeState;
      report_id: string | null;
      reported_at: number | null;
      changed: number;
      error: string | null;
    }[];
  }[];
}

export function rolloutSummary(r: RolloutRecord, now: number): RolloutSummary {
  return {
    id: r.id,
    commit: r.commit,
    from: r.from,
    state: r.state,
    noop: r.noop,
    nodes: r.nodes,
    canary: r.canary,
    pause_ms: r.pauseMs,
    timeout_ms: r.timeoutMs,
    started_by: r.startedBy,
    started_at: r.startedAt,
    ended_at: r.endedAt,
    elapsed_ms: (r.state === "running" ? now : (r.endedAt ?? now)) - r.startedAt,
    reason: r.reason,
  };
}

export function rolloutView(r: RolloutDetail, now: number): RolloutView {
  const counts = Object.fromEntries(nodeStates.map((s) => [s, 0])) as Record<NodeState, number>;
  const changes = { resources: 0, nodes: 0 };
  for (const w of r.waves) {
    for (const n of w.nodes) {
      counts[n.state]++;
      if (n.changed > 0) {
        changes.resources += n.changed;
        changes.nodes++;
      }
    }
  }
  return {
    ...rolloutSummary(r, now),
    counts,
    changes,
    waves: r.waves.map((w) => ({
      index: w.index,
      name: w.index === 0 && r.canary !== "0" && !r.noop ? "canary" : `wave ${w.index + 1}`,
      state: w.state,
      started_at: w.startedAt,
      ended_at: w.endedAt,
      not_before: w.notBefore,
      nodes: w.nodes.map((n) => ({
        node: n.node,
        state: n.state,
        report_id: n.reportId,
        reported_at: n.reportedAt,
        changed: n.changed,
        error: n.error,
      })),
    })),
  };
}
