/**
 * What the console's "Run now", "Plan now" and "Deploy" buttons need from issue 11, as two small
 * interfaces. `Signals` is the push channel (server/push/signals.ts, `Deps.push`), which every
 * server has; tests of the console may pass a stand-in, or null for a server without it (the
 * buttons then say the push channel is not available and the API answers 503
 * TEND_E_PUSH_UNAVAILABLE). `Rollouts` is null until issue 11's rollouts land: pass the
 * implementation to `buildApp` (`rollouts` in AppOptions).
 */
import type { SignalKind } from "./push/events.js";
import type { SendResult } from "./push/signals.js";

export type { SendResult, SignalKind };

export interface Signals {
  /**
   * Signals these nodes (`run`: run now; `noop`: plan now; `commit`: run if the catalog changed);
   * resolves once the signal is recorded and handed to the streams, with how many it reached.
   * A signal never carries resources.
   */
  send(nodes: string[], signal: SignalKind): Promise<SendResult>;
}

export interface Rollouts {
  /** Starts a rollout of `commit` (canary and waves as configured); resolves to its id. */
  start(o: { commit: string; noop: boolean; startedBy: string }): Promise<{ id: string }>;
}
