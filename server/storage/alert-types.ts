/**
 * What the alert code (server/alerts/) reads and keeps, as types: conditions, the outbox of alert
 * events, the sinks' shared state, storms, and the `AlertStorage` interface that alerts.ts
 * implements (`Storage.alerts`).
 */
import type { ConditionRow } from "../alerts/conditions.js";
import type { RaiseInput, StoredEvent } from "../alerts/kinds.js";

/** Which sinks get which kinds, and how long a cleared condition is held: set once at start-up. */
export interface AlertPolicy {
  sinks: { name: string; on: readonly string[] }[];
  flapWindowMs: number;
}

export type OutboxState = "pending" | "sent" | "failed" | "coalesced";

/** One event for one sink. */
export interface OutboxRow {
  /** The delivery id (a UUID), sent as X-Tend-Delivery / the event's `id`. */
  id: string;
  sink: string;
  kind: string;
  subject: string;
  seq: number;
  action: StoredEvent["action"];
  created_at: number;
  event: StoredEvent;
  state: OutboxState;
  attempts: number;
  next_at: number;
  done_at: number | null;
  last_status: number | null;
  last_error: string | null;
  storm: string | null;
}

/** A delivery's outcome, as the worker records it. */
export type DeliveryOutcome =
  | { id: string; result: "sent"; status: number }
  | { id: string; result: "retry"; status: number | null; error: string; nextAt: number }
  | { id: string; result: "failed"; status: number | null; error: string };

export interface SinkState {
  name: string;
  owner: string | null;
  owner_until: number;
  paused_until: number;
  failures: number;
  last_ok_at: number | null;
  last_error: string | null;
  last_error_at: number | null;
}

/** Triggers of one kind for one sink sent as one alert (server/alerts/storms.ts). */
export interface StormRow {
  id: string;
  sink: string;
  kind: string;
  opened_at: number;
  /** Triggers created up to this time join the storm. */
  until_at: number;
  members: number;
  resolved: number;
}

/** A storm being formed or grown by the worker: its members' outbox ids. */
export interface StormChange {
  storm: StormRow;
  created: boolean;
  join: string[];
  /** Resolves of members, folded into the storm rather than sent. */
  fold: string[];
  /** Set when every member has resolved: the storm's own resolve, to send. */
  resolve: StoredEvent | null;
  /** Set when the storm is new: its trigger, to send. */
  trigger: StoredEvent | null;
}

export interface StaleSettings {
  /** `alerts.stale_after`, or null for 3 × each node's interval (at least 15 min). */
  staleAfterMs: number | null;
  /** The interval of nodes whose reports do not say (`agent_interval`). */
  defaultIntervalMs: number;
}

export type ConditionRecord = ConditionRow;

export interface AlertStorage {
  configure(policy: AlertPolicy): void;
  /** Called after a transaction wrote outbox rows, so a worker can deliver them at once. */
  onEnqueue: (() => void) | null;

  /** Raises a condition (a trigger unless it is already open), with its events, in one transaction. */
  raise(kind: string, subject: string, input: RaiseInput, now: number): Promise<boolean>;
  /** Clears it (held for the flap window, or resolved now), in one transaction. */
  clear(kind: string, subject: string, now: number): Promise<boolean>;

  /** Runs `fn` unless another server is sweeping (undefined then): one sweep at a time. */
  exclusive<T>(fn: () => Promise<T>): Promise<T | undefined>;
  /** Resolves clearing conditions whose flap window has passed; how many. */
  expireHeld(now: number): Promise<number>;
  /** Raises `stale` for nodes whose last report is too old; how many. */
  markStale(now: number, s: StaleSettings, limit: number): Promise<number>;
  /** Settles nodes whose latest report was stored but not evaluated (a crash in between); how many. */
  settleReports(now: number, limit: number): Promise<number>;
  /** Closes the conditions of revoked nodes; how many. */
  retireRevoked(now: number): Promise<number>;
  /** Deletes delivered or failed events older than `before`; how many. */
  prune(before: number): Promise<number>;

  /** Takes or keeps the sink for `owner` until `until`; false when another server holds it. */
  claimSink(name: string, owner: string, now: number, until: number): Promise<boolean>;
  releaseSink(name: string, owner: string): Promise<void>;
  /** Frees every sink (SQLite at start-up: one process owns the file, so no other holds one). */
  releaseAllSinks(): Promise<void>;
  sinkStates(): Promise<SinkState[]>;
  /** The sink's pending events, oldest first (at most `limit`). */
  pending(sink: string, limit: number): Promise<OutboxRow[]>;
  /** How many of the sink's requests succeeded since `since` (the rate budget). */
  sentSince(sink: string, since: number): Promise<number>;
  /** Created times of the sink's triggers of `kinds` (not storms) sent or coalesced since `since`. */
  triggersSince(
    sink: string,
    kinds: string[],
    since: number,
  ): Promise<{ kind: string; created_at: number }[]>;
  openStorms(sink: string): Promise<StormRow[]>;
  /** The storm each (kind, subject, seq) trigger of these storms was coalesced into. */
  stormMembers(stormIds: string[]): Promise<{ kind: string; subject: string; seq: number; storm: string }[]>;
  /** Applies a storm change and writes the storm's own events; in one transaction. */
  applyStorm(sink: string, change: StormChange, now: number): Promise<void>;
  record(outcomes: DeliveryOutcome[], now: number): Promise<void>;
  /** The sink's shared health: paused after a retryable error, or fine again. */
  sinkFailed(name: string, pausedUntil: number, error: string, now: number): Promise<void>;
  sinkOk(name: string, now: number): Promise<void>;
  /** A test event, delivered outside the queue, recorded for the dashboard. */
  recordTest(sink: string, event: StoredEvent, outcome: DeliveryOutcome, now: number): Promise<void>;

  /** Open and clearing conditions, oldest first (at most `limit`). */
  openConditions(limit: number): Promise<ConditionRecord[]>;
  /** The newest events of every sink: pending, sent, failed, coalesced. */
  recentDeliveries(limit: number): Promise<OutboxRow[]>;
  /** Open and clearing conditions by kind. */
  conditionCounts(): Promise<Record<string, number>>;
  /** Pending events by sink. */
  outboxDepth(): Promise<Record<string, number>>;
}
