/**
 * How a condition moves, as pure functions of its stored row: closed → open (a trigger), open →
 * clearing (held for the flap window, no event yet), clearing → open again (it flapped: no new page),
 * clearing → closed when the window passes (a resolve). An open condition raised again changes
 * nothing: repeated failures page once. Every event bumps the condition's `seq`, which orders its
 * events in the outbox (one dedup key, in order).
 */
import { type AlertDetails, type RaiseInput, type StoredEvent, severityOf } from "./kinds.js";

export type ConditionState = "open" | "clearing" | "closed";

export interface ConditionRow {
  kind: string;
  subject: string;
  node: string | null;
  state: ConditionState;
  /** Events written so far for this (kind, subject); the next one is seq + 1. */
  seq: number;
  opened_at: number;
  changed_at: number;
  /** When a clearing condition resolves, unless it returns first. */
  clear_at: number | null;
  /** Times it returned while clearing (flapping) since it opened. */
  flaps: number;
  summary: string;
  details: AlertDetails;
}

/** What to store (null: nothing changes) and the event to send (null: none). */
export interface Transition {
  row: ConditionRow | null;
  event: StoredEvent | null;
}

const none: Transition = { row: null, event: null };
const iso = (ms: number) => new Date(ms).toISOString();

export function raise(
  prev: ConditionRow | undefined,
  kind: string,
  subject: string,
  input: RaiseInput,
  now: number,
): Transition {
  if (prev?.state === "open") return none;
  if (prev?.state === "clearing") {
    // Back within the flap window: held open, nobody is paged again.
    return {
      row: { ...prev, state: "open", clear_at: null, changed_at: now, flaps: prev.flaps + 1 },
      event: null,
    };
  }
  const row: ConditionRow = {
    kind,
    subject,
    node: input.node,
    state: "open",
    seq: (prev?.seq ?? 0) + 1,
    opened_at: now,
    changed_at: now,
    clear_at: null,
    flaps: 0,
    summary: input.summary,
    details: input.details,
  };
  const event: StoredEvent = {
    action: "trigger",
    kind,
    subject,
    node: input.node,
    summary: input.summary,
    severity: severityOf(kind),
    at: iso(now),
    opened_at: iso(now),
    details: input.details,
  };
  return { row, event };
}

/** Clears an open condition: held for `flapWindowMs` (resolved by `expire`), or resolved now when 0. */
export function clear(prev: ConditionRow | undefined, now: number, flapWindowMs: number): Transition {
  if (prev?.state !== "open") return none;
  if (flapWindowMs > 0) {
    return {
      row: { ...prev, state: "clearing", clear_at: now + flapWindowMs, changed_at: now },
      event: null,
    };
  }
  return close(prev, now);
}

/** Resolves a clearing condition whose flap window has passed. */
export function expire(prev: ConditionRow, now: number): Transition {
  if (prev.state !== "clearing" || prev.clear_at === null || prev.clear_at > now) return none;
  return close(prev, now);
}

/** Resolves an open or clearing condition now, without a flap window (its subject is gone). */
export function retire(prev: ConditionRow, now: number): Transition {
  return prev.state === "closed" ? none : close(prev, now);
}

function close(prev: ConditionRow, now: number): Transition {
  const row: ConditionRow = { ...prev, state: "closed", seq: prev.seq + 1, clear_at: null, changed_at: now };
  const event: StoredEvent = {
    action: "resolve",
    kind: prev.kind,
    subject: prev.subject,
    node: prev.node,
    summary: resolvedSummary(prev),
    severity: severityOf(prev.kind),
    at: iso(now),
    opened_at: iso(prev.opened_at),
    details: { ...prev.details, flaps: prev.flaps },
  };
  return { row, event };
}

function resolvedSummary(prev: ConditionRow): string {
  if (prev.kind === "refused-commit") return "recipes: a valid commit landed; the refused commit is resolved";
  return `${prev.subject} is no longer ${prev.kind}`;
}
