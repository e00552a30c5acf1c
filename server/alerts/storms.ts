/**
 * Storms: when more than a sink's `max_per_minute` triggers of one kind were created within a
 * minute (a bad commit failing the fleet), the rest are sent as one alert (`tend/storm:ID/KIND`)
 * listing the nodes, instead of a page each; PagerDuty takes about 120 events a minute per routing
 * key, Slack one message a second. Later triggers of that kind join the storm while they keep
 * coming (until a minute passes without one); a member's resolve is folded into the storm, which
 * resolves when every member has. Decided from the events' creation times alone, so a sink that
 * was down still gets sparse events one by one when it returns. Pure: the worker applies the plan.
 */
import type { OutboxRow, StormChange, StormRow } from "../storage/alert-types.js";
import { type StoredEvent, severityOf, stormPrefix } from "./kinds.js";

export const stormWindowMs = 60_000;

export interface StormInput {
  perMinute: number;
  /** The sink's ready events (the first pending of each dedup key), oldest first. */
  ready: OutboxRow[];
  openStorms: StormRow[];
  /** The triggers coalesced into the open storms, by kind, subject and seq. */
  members: { kind: string; subject: string; seq: number; storm: string }[];
  /** Creation times of the sink's triggers already sent or coalesced in the last window, by kind. */
  recent: { kind: string; created_at: number }[];
  now: number;
  newId: () => string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const isStorm = (r: OutboxRow) => r.subject.startsWith(stormPrefix);

function stormEvent(
  s: StormRow,
  action: "trigger" | "resolve",
  subjects: string[],
  now: number,
): StoredEvent {
  const nodes = subjects.slice(0, 50);
  const rest = s.members - Math.min(3, subjects.length);
  const named = subjects.slice(0, 3).join(", ");
  const summary =
    action === "trigger"
      ? `${s.kind} on ${s.members} nodes at once (a storm): ${named}${rest > 0 ? ` and ${rest} more` : ""}`
      : `the ${s.kind} storm is over: all ${s.members} nodes recovered`;
  return {
    action,
    kind: s.kind,
    subject: `${stormPrefix}${s.id}`,
    node: null,
    summary,
    severity: severityOf(s.kind),
    at: iso(now),
    opened_at: iso(s.opened_at),
    details: {},
    storm: { id: s.id, count: s.members, nodes },
  };
}

/** How many of the sorted `times` are at most `t`. */
function countUpTo(times: number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((times[mid] as number) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Triggers that have more than `limit` triggers (theirs and `earlier` ones) in the window ending at them. */
function dense(rows: OutboxRow[], earlier: number[], limit: number): OutboxRow[] {
  const times = [...earlier, ...rows.map((r) => r.created_at)].sort((a, b) => a - b);
  return rows.filter(
    (r) => countUpTo(times, r.created_at) - countUpTo(times, r.created_at - stormWindowMs) > limit,
  );
}

/** The storm changes to apply, and the ready events they take (not to be sent on their own). */
export function planStorms(i: StormInput): { changes: StormChange[]; taken: Set<string> } {
  const changes = new Map<string, StormChange>();
  const subjects = new Map<string, string[]>();
  const taken = new Set<string>();
  const storms = new Map(i.openStorms.map((s) => [s.id, { ...s }]));
  const change = (s: StormRow, created = false): StormChange => {
    let c = changes.get(s.id);
    if (!c) {
      c = { storm: s, created, join: [], fold: [], resolve: null, trigger: null };
      changes.set(s.id, c);
    }
    return c;
  };
  const named = (id: string): string[] => {
    const list = subjects.get(id) ?? [];
    subjects.set(id, list);
    return list;
  };
  const memberOf = new Map(i.members.map((m) => [`${m.kind}\0${m.subject}\0${m.seq}`, m.storm]));
  for (const m of i.members) named(m.storm).push(m.subject);

  for (const r of i.ready) {
    if (isStorm(r) || r.action !== "resolve") continue;
    const s = storms.get(memberOf.get(`${r.kind}\0${r.subject}\0${r.seq - 1}`) ?? "");
    if (!s) continue;
    change(s).fold.push(r.id);
    s.resolved++;
    taken.add(r.id);
  }
  const loose = new Map<string, OutboxRow[]>();
  for (const r of i.ready) {
    if (isStorm(r) || r.action !== "trigger") continue;
    const s = [...storms.values()].find((x) => x.kind === r.kind && r.created_at <= x.until_at);
    if (!s) {
      const rows = loose.get(r.kind) ?? [];
      rows.push(r);
      loose.set(r.kind, rows);
      continue;
    }
    change(s).join.push(r.id);
    s.members++;
    s.until_at = Math.max(s.until_at, r.created_at + stormWindowMs);
    named(s.id).push(r.subject);
    taken.add(r.id);
  }
  for (const [kind, rows] of loose) {
    const earlier = i.recent.filter((x) => x.kind === kind).map((x) => x.created_at);
    const members = dense(rows, earlier, i.perMinute);
    if (members.length === 0) continue;
    const s: StormRow = {
      id: i.newId(),
      sink: "",
      kind,
      opened_at: i.now,
      until_at: Math.max(...members.map((r) => r.created_at)) + stormWindowMs,
      members: members.length,
      resolved: 0,
    };
    storms.set(s.id, s);
    const c = change(s, true);
    c.join = members.map((r) => r.id);
    subjects.set(
      s.id,
      members.map((r) => r.subject),
    );
    for (const r of members) taken.add(r.id);
  }
  for (const c of changes.values()) {
    c.storm = storms.get(c.storm.id) as StormRow;
    const names = subjects.get(c.storm.id) ?? [];
    if (c.created) c.trigger = stormEvent(c.storm, "trigger", names, i.now);
    if (c.storm.resolved >= c.storm.members) c.resolve = stormEvent(c.storm, "resolve", names, i.now);
  }
  return { changes: [...changes.values()], taken };
}
