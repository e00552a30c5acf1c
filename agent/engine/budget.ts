/**
 * A resource's time budget: an AbortSignal that fires when the budget runs out or the run is
 * stopped, and `run()`, which settles as soon as that happens even when a kind ignores the signal
 * (the kind's promise is left to finish on its own; its late result or error is dropped).
 *
 * Cheap on the no-op path, where a run makes 10,000 of these: the AbortController is made only
 * when a kind reads `signal`, and the timer starts with the first `run()`.
 */
export interface Budget {
  readonly signal: AbortSignal;
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Abort now with `reason` (the run was stopped). */
  fire(reason: Error): void;
  dispose(): void;
}

export function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

export function budget(ms: number): Budget {
  let controller: AbortController | null = null;
  let reason: Error | null = null;
  let timer: NodeJS.Timeout | null = null;
  const waiting = new Set<(err: Error) => void>();
  const fire = (err: Error) => {
    if (reason) return;
    reason = err;
    controller?.abort(err);
    for (const reject of waiting) reject(err);
    waiting.clear();
  };
  return {
    get signal() {
      if (!controller) {
        controller = new AbortController();
        if (reason) controller.abort(reason);
      }
      return controller.signal;
    },
    run<T>(work: () => Promise<T>): Promise<T> {
      if (reason) return Promise.reject(reason);
      timer ??= setTimeout(() => fire(new Error(`timed out after ${seconds(ms)}`)), ms);
      return new Promise<T>((resolve, reject) => {
        waiting.add(reject);
        Promise.resolve()
          .then(work)
          .then(resolve, reject)
          .finally(() => waiting.delete(reject));
      });
    },
    fire,
    dispose() {
      if (timer) clearTimeout(timer);
      waiting.clear();
    },
  };
}
