/**
 * Alerting in one object, built with the app: it tells the storage which sinks get which kinds
 * (so a condition's events are written in its transaction), and runs the delivery worker and the
 * sweeper once started (main.ts starts it after listening; tests drive `sweep` and `deliver`).
 */
import { randomUUID } from "node:crypto";
import { TendError } from "../../core/errors.js";
import type { DeliveryOutcome } from "../storage/alert-types.js";
import type { Storage } from "../storage/types.js";
import type { AlertsConfig } from "./config.js";
import { type StoredEvent, toAlertEvent } from "./kinds.js";
import type { Sink } from "./sinks.js";
import { prune, type SweepResult, sweep } from "./sweeper.js";
import { type AlertLog, DeliveryWorker, type WorkerOptions } from "./worker.js";

export interface AlertServiceOptions {
  storage: Storage;
  sinks: Sink[];
  alerts: AlertsConfig;
  defaultIntervalMs: number;
  keepDays: number;
  server: () => string;
  now: () => number;
  log: AlertLog;
  onOutcome?: WorkerOptions["onOutcome"];
  /** Worker timings (tests shorten them). */
  worker?: Partial<Pick<WorkerOptions, "timeoutMs" | "leaseMs" | "pollMs" | "backoff" | "maxAgeMs">>;
  sweepMs?: number;
}

export class AlertService {
  readonly worker: DeliveryWorker;
  private timers: NodeJS.Timeout[] = [];
  private sweeping: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: AlertServiceOptions) {
    o.storage.alerts.configure({
      sinks: o.sinks.map((s) => ({ name: s.name, on: s.on })),
      flapWindowMs: o.alerts.flapWindowMs,
    });
    this.worker = new DeliveryWorker({
      storage: o.storage.alerts,
      sinks: o.sinks,
      server: o.server,
      now: o.now,
      log: o.log,
      onOutcome: o.onOutcome,
      ...o.worker,
    });
    o.storage.alerts.onEnqueue = () => this.worker.wake();
  }

  get sinks(): Sink[] {
    return this.o.sinks;
  }

  async start(): Promise<void> {
    // A SQLite file has one server: leases a killed process held are void.
    if (this.o.storage.kind === "sqlite") await this.o.storage.alerts.releaseAllSinks();
    this.worker.start();
    const every = (ms: number, fn: () => Promise<unknown>) => {
      const t = setInterval(() => {
        this.sweeping = fn().catch((err) =>
          this.o.log.warn({ err: (err as Error).message }, "alert sweep failed"),
        );
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.o.sweepMs ?? 10_000, () => this.sweep());
    every(3_600_000, () => prune(this.o.storage, this.o.keepDays * 86_400_000, this.o.now()));
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.sweeping;
    await this.worker.stop();
  }

  /** One sweep now (flap windows, stale nodes, unsettled reports, revoked nodes, refused commits). */
  sweep(now = this.o.now()): Promise<SweepResult | undefined> {
    return sweep(
      this.o.storage,
      {
        staleAfterMs: this.o.alerts.staleAfterMs,
        defaultIntervalMs: this.o.defaultIntervalMs,
        keepMs: this.o.keepDays * 86_400_000,
      },
      now,
    );
  }

  /** One delivery pass over the sinks (the worker runs these on its own once started). */
  deliver(): Promise<number> {
    return this.worker.once();
  }

  /**
   * `tend server alerts test SINK`: a test event sent at once, outside the queue (PagerDuty gets a
   * trigger and, right after, its resolve, so no test incident stays open), recorded for the
   * dashboard. The outcomes, in order.
   */
  async sendTest(name: string): Promise<DeliveryOutcome[]> {
    const sink = this.o.sinks.find((s) => s.name === name);
    if (!sink) {
      const known = this.o.sinks.map((s) => s.name).join(", ") || "none";
      throw new TendError("TEND_E_USAGE", `no alert sink is named "${name}" (configured: ${known}).`);
    }
    const now = this.o.now();
    const at = new Date(now).toISOString();
    const event: StoredEvent = {
      action: "test",
      kind: "test",
      subject: `test:${name}`,
      node: null,
      summary: `tend test event for alert sink "${name}": alerts reach this destination`,
      severity: "info",
      at,
      opened_at: at,
      details: { sink: name },
    };
    const events = sink.type === "pagerduty" ? [event, { ...event, action: "resolve" as const }] : [event];
    const outcomes: DeliveryOutcome[] = [];
    for (const e of events) {
      const id = randomUUID();
      const r = await sink.post(toAlertEvent(id, this.o.server(), e), 10_000);
      const outcome: DeliveryOutcome = r.ok
        ? { id, result: "sent", status: r.status as number }
        : { id, result: "failed", status: r.status, error: r.error ?? "" };
      await this.o.storage.alerts.recordTest(name, e, outcome, now);
      outcomes.push(outcome);
      if (!r.ok) break;
    }
    return outcomes;
  }
}
