/**
 * PostgreSQL: the stored reports whose alert conditions change (pg-reports.ts says which), settled
 * together. Those that arrive in the same turn of the event loop share one transaction, and at most
 * `maxInFlight` transactions run at once, so a fleet failing together (a bad commit) costs a few
 * connections and commits rather than one of each per report. Each caller is answered after its
 * transaction committed. A group that fails for any reason but a lost connection is retried one
 * report at a time, so one bad report fails only itself.
 */
import type { Report } from "../../core/types.js";
import { StorageUnavailable } from "./types.js";

export interface Settling {
  report: Report;
  now: number;
}

interface Waiting extends Settling {
  resolve: () => void;
  reject: (err: unknown) => void;
}

const maxGroup = 64;
const maxInFlight = 2;

export class SettleGroups {
  private waiting: Waiting[] = [];
  private inFlight = 0;
  private scheduled = false;

  /** `settleAll` settles the items (ordered by node) in one transaction. */
  constructor(private readonly settleAll: (items: Settling[]) => Promise<void>) {}

  settle(report: Report, now: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ report, now, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0 || this.inFlight >= maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.waiting.length > 0 && this.inFlight < maxInFlight) {
        const group = this.waiting.splice(0, maxGroup);
        this.inFlight++;
        void this.run(group).finally(() => {
          this.inFlight--;
          this.schedule();
        });
      }
    });
  }

  private async run(group: Waiting[]): Promise<void> {
    const sorted = [...group].sort((a, b) =>
      a.report.node < b.report.node ? -1 : a.report.node > b.report.node ? 1 : 0,
    );
    try {
      await this.settleAll(sorted);
      for (const w of group) w.resolve();
    } catch (err) {
      if (err instanceof StorageUnavailable || group.length === 1) {
        for (const w of group) w.reject(err);
        return;
      }
      await Promise.all(group.map((w) => this.settleAll([w]).then(w.resolve, w.reject)));
    }
  }
}
