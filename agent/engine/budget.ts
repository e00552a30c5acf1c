/**
 * A resource's time budget: one AbortSignal that fires when the budget runs out or the whole run is
 * stopped, and `run()`, which settles as soon as the signal fires even when a kind ignores it (the
 * kind's promise is left to finish on its own; its late result or error is dropped).
 */
export interface Budget {
  signal: AbortSignal;
  run<T>(work: () => Promise<T>): Promise<T>;
  dispose(): void;
}

export function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

export function budget(ms: number, runSignal?: AbortSignal): Budget {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${seconds(ms)}`)), ms);
  const onStop = () => controller.abort(new Error("the run was stopped"));
  runSignal?.addEventListener("abort", onStop, { once: true });
  const signal = controller.signal;
  return {
    signal,
    run<T>(work: () => Promise<T>): Promise<T> {
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise<T>((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
        Promise.resolve()
          .then(work)
          .then(resolve, reject)
          .finally(() => signal.removeEventListener("abort", onAbort));
      });
    },
    dispose() {
      clearTimeout(timer);
      runSignal?.removeEventListener("abort", onStop);
    },
  };
}
