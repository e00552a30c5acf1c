/**
 * The report spool (TRUST G4): every report is written to `state_dir/spool/` (0600, atomically)
 * before it is sent, and removed only once the server has taken it (201, or 200 for a retry the
 * server already had: it dedupes by id). Sent oldest first. Bounded by count and bytes: the
 * oldest are dropped, and the number dropped rides along in the next report (`dropped_reports`),
 * carried over again if that report is dropped too.
 */
import { mkdir, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Report } from "../../core/types.js";
import { writePrivate } from "../client/identity.js";
import { HttpStatusError, UnreachableError } from "../http.js";
import { SPOOL_ENTRY, spoolDir } from "./report-spool-names.js";

export { backoffMs } from "./report-spool-names.js";

export interface SpoolLimits {
  maxReports: number;
  maxBytes: number;
}

/** What sends one report: resolves when the server has it, throws otherwise. */
export type Sender = (report: Report) => Promise<void>;

export interface FlushResult {
  sent: number;
  /** Reports the server refused for good (moved to spool/rejected/). */
  rejected: number;
  left: number;
  /** Why sending stopped early, when it did. */
  error?: string;
}

const DROPPED = "dropped";
let sequence = 0;

export class Spool {
  readonly dir: string;

  constructor(
    stateDir: string,
    readonly limits: SpoolLimits,
  ) {
    this.dir = spoolDir(stateDir);
  }

  /** Spooled report files, oldest first (names sort by time, then a sequence). */
  async list(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((n) => SPOOL_ENTRY.test(n)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
  }

  async #dropped(): Promise<number> {
    try {
      return Number.parseInt(await readFile(join(this.dir, DROPPED), "utf8"), 10) || 0;
    } catch {
      return 0;
    }
  }

  async #setDropped(n: number): Promise<void> {
    if (n === 0) await unlink(join(this.dir, DROPPED)).catch(() => {});
    else await writePrivate(join(this.dir, DROPPED), String(n));
  }

  /** Puts `report` in the spool (with the count of reports dropped so far), then enforces the bounds. */
  async add(report: Report): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const dropped = await this.#dropped();
    const out: Report =
      dropped > 0 ? { ...report, dropped_reports: (report.dropped_reports ?? 0) + dropped } : report;
    const seq = String(++sequence);
    const name = `${String(Date.now()).padStart(15, "0")}-${process.pid}-${seq}-${report.id.replace(/[^A-Za-z0-9-]/g, "_")}.json`;
    await writePrivate(join(this.dir, name), JSON.stringify(out));
    if (dropped > 0) await this.#setDropped(0);
    await this.#enforce(name);
  }

  async #enforce(keep: string): Promise<void> {
    const names = await this.list();
    const sizes = await Promise.all(
      names.map((n) =>
        stat(join(this.dir, n)).then(
          (s) => s.size,
          () => 0,
        ),
      ),
    );
    let count = names.length;
    let bytes = sizes.reduce((a, b) => a + b, 0);
    let dropped = 0;
    for (
      let i = 0;
      i < names.length && (count > this.limits.maxReports || bytes > this.limits.maxBytes);
      i++
    ) {
      const name = names[i]!;
      if (name === keep) continue;
      const path = join(this.dir, name);
      let carried = 0;
      try {
        carried = (JSON.parse(await readFile(path, "utf8")) as Report).dropped_reports ?? 0;
      } catch {
        // unreadable: it counts as one
      }
      await unlink(path).catch(() => {});
      dropped += 1 + carried;
      count--;
      bytes -= sizes[i]!;
    }
    if (dropped > 0) await this.#setDropped((await this.#dropped()) + dropped);
  }

  /** Sends spooled reports oldest first; stops at the first that cannot be sent now. */
  async flush(send: Sender): Promise<FlushResult> {
    const names = await this.list();
    const result: FlushResult = { sent: 0, rejected: 0, left: names.length };
    for (const name of names) {
      const path = join(this.dir, name);
      let report: Report;
      try {
        report = JSON.parse(await readFile(path, "utf8")) as Report;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          result.left--; // another flusher sent it
          continue;
        }
        await this.#reject(name);
        result.rejected++;
        result.left--;
        continue;
      }
      try {
        await send(report);
      } catch (err) {
        if (err instanceof HttpStatusError && permanent(err.status)) {
          await this.#reject(name);
          result.rejected++;
          result.left--;
          continue;
        }
        result.error = err instanceof UnreachableError || err instanceof Error ? err.message : String(err);
        return result;
      }
      await unlink(path).catch(() => {});
      result.sent++;
      result.left--;
    }
    return result;
  }

  /** A report the server will never take (malformed, another node's id) is kept aside, not retried forever. */
  async #reject(name: string): Promise<void> {
    const dir = join(this.dir, "rejected");
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await rename(join(this.dir, name), join(dir, name)).catch(() => {});
    const kept = (await readdir(dir)).sort();
    for (const old of kept.slice(0, Math.max(0, kept.length - 20)))
      await unlink(join(dir, old)).catch(() => {});
  }
}

/** 4xx answers that a retry cannot fix (401/403 can: a credential problem stops sending instead). */
function permanent(status: number): boolean {
  return status === 400 || status === 409 || status === 413 || status === 422;
}
