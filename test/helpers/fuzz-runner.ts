/**
 * Runs recipe fuzz cases in a worker thread with a watchdog: a case over `budgetMs` is a hang and
 * its worker is terminated; a worker over its heap limit (or the process over `rssMb`) is an
 * out-of-memory finding. Either way a fresh worker takes the next case. Findings are grouped by
 * signature, and the first few of each are written to `outDir` with their seed.
 */
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Worker } from "node:worker_threads";
import {
  caseSeed,
  GOOD_KINDS,
  generateRepo,
  MAX_FILE,
  type Outcome,
  type OutcomeKind,
  signature,
} from "./fuzz-recipes.js";

export interface RunOptions {
  seed: number;
  count: number;
  /** First case index (a run can be continued). */
  start?: number;
  budgetMs?: number;
  slowMs?: number;
  heapMb?: number;
  rssMb?: number;
  /** Files of a case are cut at this size (bytes). */
  maxFile?: number;
  /** Where findings are saved; none when undefined. */
  outDir?: string;
  /** Findings saved per signature. */
  keepPerSignature?: number;
  onProgress?: (s: RunStats) => void;
  progressEveryMs?: number;
}

export interface Finding {
  signature: string;
  kind: OutcomeKind;
  seed: number;
  index: number;
  detail?: string;
  stack?: string;
  labels?: string[];
  ms: number;
}

export interface RunStats {
  cases: number;
  kinds: Record<string, number>;
  findings: Map<string, Finding[]>;
  /** Cases per signature. */
  counts: Map<string, number>;
  elapsedMs: number;
  maxCaseMs: number;
  maxRssMb: number;
}

interface Reply {
  seed: number;
  outcome: Outcome;
  labels?: string[];
  rss: number;
}

const workerUrl = new URL("./fuzz-worker.ts", import.meta.url).href;
const tsxApi = import.meta.resolve("tsx/esm/api");

export async function runRecipeFuzz(o: RunOptions): Promise<RunStats> {
  const budgetMs = o.budgetMs ?? 10_000;
  const slowMs = o.slowMs ?? 2_000;
  const heapMb = o.heapMb ?? 768;
  const rssMb = o.rssMb ?? 1536;
  const keep = o.keepPerSignature ?? 3;
  const maxFile = o.maxFile ?? MAX_FILE;
  const stats: RunStats = {
    cases: 0,
    kinds: {},
    findings: new Map(),
    counts: new Map(),
    elapsedMs: 0,
    maxCaseMs: 0,
    maxRssMb: 0,
  };
  const started = performance.now();
  let lastProgress = started;
  const start = o.start ?? 0;

  const record = (index: number, seed: number, outcome: Outcome, labels?: string[]) => {
    stats.cases++;
    stats.kinds[outcome.kind] = (stats.kinds[outcome.kind] ?? 0) + 1;
    stats.maxCaseMs = Math.max(stats.maxCaseMs, outcome.ms);
    if (GOOD_KINDS.has(outcome.kind)) return;
    const sig = signature(outcome.kind, { ...outcome, labels });
    stats.counts.set(sig, (stats.counts.get(sig) ?? 0) + 1);
    const list = stats.findings.get(sig) ?? [];
    if (list.length < keep) {
      const f: Finding = {
        signature: sig,
        kind: outcome.kind,
        seed,
        index,
        ms: Math.round(outcome.ms),
        labels,
      };
      if (outcome.detail) f.detail = outcome.detail;
      if (outcome.stack) f.stack = outcome.stack;
      list.push(f);
      stats.findings.set(sig, list);
      if (o.outDir) saveFinding(o.outDir, f, maxFile);
    }
  };

  let worker: Worker | undefined;
  let waiting: ((r: Reply | { died: string; oom: boolean }) => void) | undefined;
  const spawn = () =>
    new Promise<void>((resolve, reject) => {
      // A worker's entry is loaded before --import hooks apply to it (Node 20): register tsx first.
      const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl)}); })`;
      const w = new Worker(boot, {
        eval: true,
        workerData: { slowMs, maxFile },
        resourceLimits: { maxOldGenerationSizeMb: heapMb },
        execArgv: [],
      });
      let ready = false;
      let error: (Error & { code?: string }) | undefined;
      w.on("message", (m: Reply | { ready: true }) => {
        if ("ready" in m) {
          ready = true;
          resolve();
        } else waiting?.(m);
      });
      w.on("error", (err: Error & { code?: string }) => {
        error = err;
      });
      w.on("exit", () => {
        if (worker === w) worker = undefined;
        if (!ready) reject(error ?? new Error("the fuzz worker exited before it was ready"));
        else
          waiting?.({
            died: error ? `${error.name}: ${error.message}` : "the worker exited",
            oom: error?.code === "ERR_WORKER_OUT_OF_MEMORY",
          });
      });
      worker = w;
    });

  try {
    for (let i = start; i < start + o.count; i++) {
      if (!worker) await spawn();
      const w = worker!;
      const seed = caseSeed(o.seed, i);
      const t0 = performance.now();
      const reply = await new Promise<Reply | { died: string; oom: boolean } | { hang: true }>((resolve) => {
        const timer = setTimeout(() => resolve({ hang: true }), budgetMs);
        waiting = (r) => {
          clearTimeout(timer);
          resolve(r);
        };
        w.postMessage(seed);
      });
      waiting = undefined;
      const ms = performance.now() - t0;
      if ("hang" in reply) {
        worker = undefined;
        await w.terminate();
        record(
          i,
          seed,
          { kind: "hang", detail: `over ${budgetMs} ms`, problems: 0, ms },
          generateRepo(seed, maxFile).labels,
        );
      } else if ("died" in reply) {
        worker = undefined;
        record(
          i,
          seed,
          { kind: reply.oom ? "oom" : "crash", detail: reply.died, problems: 0, ms },
          generateRepo(seed, maxFile).labels,
        );
      } else {
        const rss = reply.rss / 2 ** 20;
        stats.maxRssMb = Math.max(stats.maxRssMb, rss);
        if (rss > rssMb) {
          worker = undefined;
          await w.terminate();
          record(
            i,
            seed,
            { ...reply.outcome, kind: "oom", detail: `RSS ${Math.round(rss)} MiB after the case` },
            reply.labels ?? generateRepo(seed, maxFile).labels,
          );
        } else record(i, seed, reply.outcome, reply.labels);
      }
      const now = performance.now();
      if (o.onProgress && now - lastProgress >= (o.progressEveryMs ?? 10_000)) {
        lastProgress = now;
        stats.elapsedMs = now - started;
        o.onProgress(stats);
      }
    }
  } finally {
    await worker?.terminate();
  }
  stats.elapsedMs = performance.now() - started;
  return stats;
}

/** The case's repository as files, and finding.json with how to rerun it. */
export function saveFinding(outDir: string, f: Finding, maxFile = MAX_FILE): void {
  const dir = join(outDir, `recipe-${f.kind}-${f.seed}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "repo"), { recursive: true });
  for (const e of generateRepo(f.seed, maxFile)) {
    const p = join(dir, "repo", e.path);
    try {
      mkdirSync(dirname(p), { recursive: true });
      if (e.symlink) symlinkSync(e.data.toString("utf8"), p);
      else writeFileSync(p, e.data);
    } catch {
      // A path a file system cannot hold (a file where a folder is): finding.json has the seed.
    }
  }
  writeFileSync(
    join(dir, "finding.json"),
    `${JSON.stringify({ ...f, rerun: `node --import tsx bench/fuzz.ts --target recipe --repro ${f.seed} --max-file ${maxFile}` }, null, 2)}\n`,
  );
}
