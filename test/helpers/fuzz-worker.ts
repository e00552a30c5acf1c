/**
 * The worker thread of the recipe fuzzer: runs one case per message and answers with its outcome
 * and the thread's memory. The main thread keeps the watchdog (a case over its time budget is a
 * hang: the worker is terminated) and the heap limit (an out-of-memory worker dies alone).
 */
import { parentPort, workerData } from "node:worker_threads";
import { generateRepo, runRecipeCase } from "./fuzz-recipes.js";

const { slowMs, maxFile } = workerData as { slowMs: number; maxFile: number };
parentPort!.on("message", (seed: number) => {
  const outcome = runRecipeCase(seed, slowMs, maxFile);
  const labels =
    outcome.kind === "ok" || outcome.kind === "user-error" ? undefined : generateRepo(seed, maxFile).labels;
  parentPort!.postMessage({ seed, outcome, labels, rss: process.memoryUsage().rss });
});
parentPort!.postMessage({ ready: true });
