/**
 * Rollouts as data (issue 11): a rollout of one commit to the nodes a glob matches, in waves (a
 * canary first), each wave signalled once the one before it is done and healthy. The states:
 *
 *   rollout  running → done | halted (a wave failed or timed out) → running (resume) | aborted
 *            running | halted → superseded (a newer rollout started)
 *   wave     pending → running → done | failed
 *   node     pending → running (signalled) → changed | unchanged | failed (reported on the commit)
 */

export type RolloutState = "running" | "halted" | "done" | "aborted" | "superseded";
export type WaveState = "pending" | "running" | "done" | "failed";
export type NodeState = "pending" | "running" | "changed" | "unchanged" | "failed";

export interface RolloutRecord {
  id: number;
  commit: string;
  /** What nodes outside the done waves keep being served (null: none known; they get the live commit). */
  from: string | null;
  state: RolloutState;
  noop: boolean;
  /** The glob on node names (`*`: every node). */
  nodes: string;
  /** As asked: `1`, `10%`. */
  canary: string;
  pauseMs: number;
  timeoutMs: number;
  startedBy: string;
  startedAt: number;
  /** When it ended (done, aborted, superseded) or last halted. */
  endedAt: number | null;
  /** Why it halted, or who aborted it. */
  reason: string | null;
}

export interface WaveRecord {
  index: number;
  state: WaveState;
  startedAt: number | null;
  endedAt: number | null;
  /** A pending wave starts no earlier than this (the pause after the wave before it). */
  notBefore: number | null;
}

export interface RolloutNodeRecord {
  node: string;
  wave: number;
  state: NodeState;
  /** The node had already reported on the commit when the rollout started: it is not held back. */
  already: boolean;
  reportId: string | null;
  reportedAt: number | null;
  /** Resources the report changed (noop: would change). */
  changed: number;
  /** Why it failed: the report's error, its failed resources and checks, or the timeout. */
  error: string | null;
}

export interface RolloutDetail extends RolloutRecord {
  waves: (WaveRecord & { nodes: RolloutNodeRecord[] })[];
}

/** What a new rollout is made of; the store writes it in one transaction. */
export interface NewRollout {
  commit: string;
  from: string | null;
  noop: boolean;
  nodes: string;
  canary: string;
  pauseMs: number;
  timeoutMs: number;
  startedBy: string;
  startedAt: number;
  /** Node names, wave by wave (the canary first). */
  waves: string[][];
  /** Nodes that had already reported on the commit. */
  already: Set<string>;
}

/** The pin that decides a node's catalog: the newest non-noop rollout the node is part of. */
export interface NodePin {
  id: number;
  commit: string;
  from: string | null;
  state: RolloutState;
  nodeState: NodeState;
  already: boolean;
}

/** A report as the rollout engine reads it. */
export interface ReportOutcome {
  node: string;
  id: string;
  commit: string;
  noop: boolean;
  state: "changed" | "unchanged" | "failed";
  changed: number;
  error: string | null;
}

export interface RolloutStorage {
  create(r: NewRollout): Promise<number>;
  /** Enrolled, not revoked nodes with the commit of their latest report. */
  fleet(): Promise<{ name: string; lastCommit: string | null }[]>;
  get(id: number): Promise<RolloutDetail | undefined>;
  list(limit: number): Promise<RolloutRecord[]>;
  /** Running and halted rollouts (the ticker's work). */
  active(): Promise<RolloutRecord[]>;
  /** The newest rollout of any kind, or undefined. */
  newest(): Promise<RolloutRecord | undefined>;
  pin(node: string): Promise<NodePin | undefined>;
  /** The commit of a running preview the node was asked to plan and has not reported on yet. */
  previewFor(node: string): Promise<string | null>;
  /** The commit of the node's latest report (`on_commit: manual` holds a node there until a deploy). */
  lastCommit(node: string): Promise<string | null>;
  /** Whether any non-noop rollout exists (before the first, no catalog consults the table). */
  any(): Promise<boolean>;
  /** Records a report on its rollouts' node rows (running, or failed while halted); the rollouts touched. */
  recordReport(o: ReportOutcome, now: number): Promise<number[]>;
  /** pending → running for the wave, once (null when it had started, or the rollout is not running). */
  startWave(id: number, index: number, now: number): Promise<string[] | null>;
  /** running → done for the wave, once; the next wave may start after `notBefore`. */
  finishWave(id: number, index: number, now: number, notBefore: number): Promise<boolean>;
  /** running → failed for the wave and running → halted for the rollout, once. */
  haltWave(id: number, index: number, now: number, reason: string): Promise<boolean>;
  /** Nodes of the wave still running are marked failed with this error; their names. */
  timeOut(id: number, index: number, error: string): Promise<string[]>;
  setState(
    id: number,
    from: RolloutState[],
    to: RolloutState,
    now: number,
    reason: string | null,
  ): Promise<boolean>;
  /** halted → running: the failed wave runs again with its failed nodes; their names. */
  resume(id: number, now: number): Promise<{ wave: number; nodes: string[] } | null>;
  /** Running and halted rollouts other than `except` become superseded. */
  supersede(except: number, now: number): Promise<void>;
}
