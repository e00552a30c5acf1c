/**
 * What the console's "Run now", "Plan now" and "Deploy" buttons need from issue 11 (the push
 * channel and rollouts), as two small interfaces. The server is built without them until that
 * work lands (`Deps.signals` and `Deps.rollouts` are null): the buttons then say the push channel
 * is not available and the API answers 503 TEND_E_PUSH_UNAVAILABLE. To connect them, pass the
 * implementations to `buildApp` (`signals`, `rollouts` in AppOptions); nothing else changes.
 */

/** A signal only says "pull and run now" (noop: a plan); it never carries resources. */
export interface RunSignal {
  kind: "run";
  noop: boolean;
}

export interface Signals {
  /** Asks these nodes to run now; resolves once the signal is handed to the channel. */
  send(nodes: string[], signal: RunSignal): Promise<void>;
}

export interface Rollouts {
  /** Starts a rollout of `commit` (canary and waves as configured); resolves to its id. */
  start(o: { commit: string; noop: boolean; startedBy: string }): Promise<{ id: string }>;
}
