/**
 * SQLite's WAL checkpoints, off the request path. better-sqlite3 runs every statement on the event
 * loop, and SQLite's automatic checkpoint runs inside the COMMIT that pushes the WAL past 1,000
 * pages: copying those pages into the database file and two fsyncs, while every request waits
 * (tens of ms under load). Here the server's connection has `wal_autocheckpoint = 0`, and a worker
 * thread with a connection of its own runs `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs`:
 * PASSIVE never waits for, nor blocks, the server's readers and writers.
 *
 * A passive checkpoint cannot copy frames committed while it runs, and SQLite starts the WAL over
 * (instead of growing it) only when a write begins with every frame copied. Under steady writes
 * that may never happen by itself, so once the WAL is longer than `holdFrames` and a checkpoint
 * did not copy all of it, a second one runs at once while the driver holds new transactions back
 * (`hold`): it has only the frames committed during the first to copy, and then the WAL starts
 * over. Requests wait for that, but the
 * event loop does not. Durability is SQLite's, unchanged: what a COMMIT acknowledged is in the WAL
 * before any checkpoint, and a checkpoint killed half-way is redone from the WAL on the next open.
 * If the worker fails, the server's connection goes back to automatic checkpoints.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** The worker, as CommonJS source (one file wherever the server runs: tsx, dist/, tests). */
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma("busy_timeout = 5000");
parentPort.on("message", (m) => {
  if (m === "stop") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [r] = db.pragma("wal_checkpoint(PASSIVE)");
    parentPort.postMessage({ busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
});
`;

export interface CheckpointResult {
  busy: number;
  /** Frames in the WAL. */
  log: number;
  /** Frames of it now copied into the database file. */
  checkpointed: number;
}

export interface CheckpointerOptions {
  file: string;
  intervalMs?: number;
  holdFrames?: number;
  /** Runs `fn` while the server's connection starts no transaction. */
  hold: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The worker failed: the caller turns automatic checkpoints back on. */
  onFailure: (err: unknown) => void;
}

export class Checkpointer {
  /** Started by the first checkpoint (a CLI command that opens the database never needs one). */
  private worker: Worker | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private waiting: { resolve: (r: CheckpointResult) => void; reject: (e: unknown) => void } | undefined;
  private running = false;
  private failed = false;
  /** Checkpoints run, and how many ran with transactions held back (for tests and the curious). */
  readonly stats = { checkpoints: 0, held: 0, frames: 0 };

  constructor(private readonly o: CheckpointerOptions) {
    this.timer = setInterval(() => void this.tick(), o.intervalMs ?? 1000);
    this.timer.unref();
  }

  private start(): Worker {
    const module = createRequire(import.meta.url).resolve("better-sqlite3");
    const worker = new Worker(workerSource, { eval: true, workerData: { file: this.o.file, module } });
    worker.unref();
    worker.on("message", (m: CheckpointResult & { error?: string }) => {
      const w = this.waiting;
      this.waiting = undefined;
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve(m);
    });
    worker.on("error", (err) => this.fail(err));
    this.exited = new Promise((resolve) => worker.once("exit", () => resolve()));
    worker.once("exit", () => {
      const err = new Error("the checkpoint worker exited");
      this.waiting?.reject(err);
      this.waiting = undefined;
      this.fail(err); // nothing when stopped
    });
    this.worker = worker;
    return worker;
  }

  /** One passive checkpoint in the worker. */
  private checkpoint(): Promise<CheckpointResult> {
    const worker = this.worker ?? this.start();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      worker.postMessage("check");
    });
  }

  /** A checkpoint now (and a held one if it left too much behind); what the last one found. */
  async tick(): Promise<CheckpointResult | undefined> {
    if (this.running || this.failed) return undefined;
    this.running = true;
    try {
      let r = await this.checkpoint();
      this.stats.checkpoints++;
      this.stats.frames += r.checkpointed;
      // Every frame copied: the next write starts the WAL over. Otherwise, once it is long, copy
      // the rest with transactions held back so that it can.
      if (r.checkpointed < r.log && r.log > (this.o.holdFrames ?? 4096)) {
        r = await this.o.hold(() => this.checkpoint());
        this.stats.held++;
      }
      return r;
    } catch (err) {
      this.fail(err);
      return undefined;
    } finally {
      this.running = false;
    }
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    clearInterval(this.timer);
    this.o.onFailure(err);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.failed = true;
    if (!this.worker) return;
    this.worker.ref(); // until it has closed its connection
    this.worker.postMessage("stop");
    await this.exited;
  }
}
