/**
 * The delivery worker: each server runs one, and a sink is worked by one server at a time (a lease
 * on its row, renewed while held, given back on stop, taken over when it lapses), so with several
 * servers on one PostgreSQL each event is sent once. For each sink it holds: the first pending
 * event of each dedup key (so a key's events go in order), storms coalesced (storms.ts), at most
 * `max_per_minute` requests a minute, the rest concurrently. 2xx: sent. 429, 5xx, no answer: the
 * sink pauses with exponential backoff and jitter (or for Retry-After) and is probed with one
 * event until it answers. Any other status: that event failed for good, shown on the dashboard.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { AlertStorage, DeliveryOutcome, OutboxRow } from "../storage/alert-types.js";
import { toAlertEvent } from "./kinds.js";
import type { SendResult, Sink } from "./sinks.js";
import { planStorms, stormWindowMs } from "./storms.js";

/** What alerting logs through (fastify's logger in the server). */
export interface AlertLog {
  warn(details: object, message: string): void;
}

export interface WorkerOptions {
  storage: AlertStorage;
  sinks: Sink[];
  /** The server's public URL, for links in events. */
  server: () => string;
  now: () => number;
  log: AlertLog;
  onOutcome?: (sink: string, outcome: "sent" | "retry" | "failed" | "coalesced", n: number) => void;
  timeoutMs?: number;
  leaseMs?: number;
  pollMs?: number;
  backoff?: { baseMs: number; capMs: number };
  /** An event not delivered this long after it was created is given up (failed). */
  maxAgeMs?: number;
}

interface Held {
  until: number;
  /** Request times in the last minute (the rate budget). */
  sends: number[];
  failures: number;
  pausedUntil: number;
}

const batchSize = 64;
const concurrency = 16;

export class DeliveryWorker {
  readonly owner = `${process.pid}-${randomBytes(4).toString("hex")}`;
  private readonly held = new Map<string, Held>();
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private passing: Promise<unknown> = Promise.resolve();
  private readonly o: Required<Omit<WorkerOptions, "onOutcome">> & Pick<WorkerOptions, "onOutcome">;

  constructor(o: WorkerOptions) {
    this.o = {
      timeoutMs: 10_000,
      leaseMs: 30_000,
      pollMs: 500,
      backoff: { baseMs: 1000, capMs: 300_000 },
      maxAgeMs: 86_400_000,
      ...o,
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops, giving its sinks back (`release: false` leaves them to lapse, as a crash would). */
  async stop(release = true): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    await this.passing;
    if (release) {
      for (const name of this.held.keys()) await this.o.storage.releaseSink(name, this.owner).catch(() => {});
    }
    this.held.clear();
  }

  /** Events were written: deliver now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.woken = false;
      let handled = 0;
      try {
        handled = await this.once();
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, "alert delivery pass failed");
      }
      if (handled > 0 || this.woken || !this.running) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.o.pollMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
    }
  }

  /**
   * One pass over every sink this server holds or can take; how many events it handled. Passes
   * never overlap (the loop's and a caller's would send the same events twice).
   */
  once(): Promise<number> {
    const pass = this.passing.then(() => this.pass());
    this.passing = pass.catch(() => 0);
    return pass;
  }

  private async pass(): Promise<number> {
    let handled = 0;
    for (const sink of this.o.sinks) {
      const held = await this.claim(sink.name);
      if (held && held.pausedUntil <= this.o.now()) handled += await this.work(sink, held);
    }
    return handled;
  }

  private async claim(name: string): Promise<Held | null> {
    const now = this.o.now();
    let held = this.held.get(name);
    if (held && held.until - now > this.o.leaseMs / 2) return held;
    const until = now + this.o.leaseMs;
    if (!(await this.o.storage.claimSink(name, this.owner, now, until))) {
      this.held.delete(name);
      return null;
    }
    if (!held) {
      // Taken over (or first taken): what was sent in the last minute counts against the budget.
      const sent = await this.o.storage.sentSince(name, now - stormWindowMs);
      held = { until, sends: Array.from({ length: sent }, () => now), failures: 0, pausedUntil: 0 };
      this.held.set(name, held);
    }
    held.until = until;
    return held;
  }

  private async work(sink: Sink, held: Held): Promise<number> {
    const now = this.o.now();
    const rows = await this.o.storage.pending(sink.name, 2000);
    const seen = new Set<string>();
    let ready: OutboxRow[] = [];
    for (const r of rows) {
      const key = `${r.kind}\0${r.subject}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (r.next_at <= now) ready.push(r);
    }
    if (ready.length === 0) return 0;
    let handled = 0;
    if (sink.maxPerMinute !== null) {
      const taken = await this.coalesce(sink, ready, sink.maxPerMinute, now);
      if (taken.size > 0) {
        ready = ready.filter((r) => !taken.has(r.id));
        handled += taken.size;
        this.o.onOutcome?.(sink.name, "coalesced", taken.size);
      }
    }
    held.sends = held.sends.filter((t) => t > now - stormWindowMs);
    const budget =
      sink.maxPerMinute === null ? batchSize : Math.max(0, sink.maxPerMinute - held.sends.length);
    // A failing sink is probed with one event; the others wait for it.
    const batch = ready.slice(0, held.failures > 0 ? Math.min(1, budget) : Math.min(budget, batchSize));
    if (batch.length === 0) return handled;
    const outcomes = await this.sendAll(sink, held, batch);
    await this.o.storage.record(outcomes, this.o.now());
    return handled + batch.length;
  }

  /** Applies the storm plan; the ids of the ready events it took. */
  private async coalesce(
    sink: Sink,
    ready: OutboxRow[],
    perMinute: number,
    now: number,
  ): Promise<Set<string>> {
    const triggers = ready.filter((r) => r.action === "trigger");
    const openStorms = await this.o.storage.openStorms(sink.name);
    if (openStorms.length === 0 && triggers.length === 0) return new Set();
    const members = await this.o.storage.stormMembers(openStorms.map((s) => s.id));
    const kinds = [...new Set(triggers.map((r) => r.kind))];
    const since = Math.min(...triggers.map((r) => r.created_at)) - stormWindowMs;
    const recent = triggers.length > 0 ? await this.o.storage.triggersSince(sink.name, kinds, since) : [];
    const plan = planStorms({
      perMinute,
      ready,
      openStorms,
      members,
      recent,
      now,
      newId: () => randomUUID().slice(0, 8),
    });
    for (const change of plan.changes) await this.o.storage.applyStorm(sink.name, change, now);
    return plan.taken;
  }

  private async sendAll(sink: Sink, held: Held, batch: OutboxRow[]): Promise<DeliveryOutcome[]> {
    const outcomes: DeliveryOutcome[] = [];
    let next = 0;
    const lanes = Array.from({ length: Math.min(concurrency, batch.length) }, async () => {
      while (next < batch.length) {
        const row = batch[next++] as OutboxRow;
        held.sends.push(this.o.now());
        const result = await sink.post(toAlertEvent(row.id, this.o.server(), row.event), this.o.timeoutMs);
        outcomes.push(this.outcome(sink, held, row, result));
      }
    });
    await Promise.all(lanes);
    const now = this.o.now();
    const failed = outcomes.filter((o) => o.result === "retry");
    if (failed.length > 0) {
      const pausedUntil = Math.max(...failed.map((o) => (o.result === "retry" ? o.nextAt : 0)));
      held.pausedUntil = pausedUntil;
      const error = failed[0]?.result === "retry" ? failed[0].error : "";
      await this.o.storage.sinkFailed(sink.name, pausedUntil, error, now);
    } else if (outcomes.some((o) => o.result === "sent") && (held.failures > 0 || held.pausedUntil > 0)) {
      held.failures = 0;
      held.pausedUntil = 0;
      await this.o.storage.sinkOk(sink.name, now);
    }
    return outcomes;
  }

  private outcome(sink: Sink, held: Held, row: OutboxRow, r: SendResult): DeliveryOutcome {
    const now = this.o.now();
    const error = r.error ?? "";
    if (r.ok) {
      this.o.onOutcome?.(sink.name, "sent", 1);
      return { id: row.id, result: "sent", status: r.status as number };
    }
    if (!r.retry || now - row.created_at > this.o.maxAgeMs) {
      const why = r.retry ? `gave up after ${Math.round(this.o.maxAgeMs / 3_600_000)} h: ${error}` : error;
      this.o.log.warn({ sink: sink.name, status: r.status, error: why }, "alert delivery failed for good");
      this.o.onOutcome?.(sink.name, "failed", 1);
      return { id: row.id, result: "failed", status: r.status, error: why };
    }
    held.failures++;
    const { baseMs, capMs } = this.o.backoff;
    const exp = Math.min(capMs, baseMs * 2 ** Math.min(held.failures - 1, 30));
    // Full jitter on half the delay: servers and sinks that failed together do not retry together.
    const delay = Math.round(r.retryAfterMs ?? exp / 2 + Math.random() * (exp / 2));
    this.o.log.warn(
      { sink: sink.name, status: r.status, error, retryInMs: Math.round(delay) },
      "alert delivery failed; will retry",
    );
    this.o.onOutcome?.(sink.name, "retry", 1);
    return { id: row.id, result: "retry", status: r.status, error, nextAt: now + delay };
  }
}
