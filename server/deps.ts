/** What the routes are given: built once in app.ts. */
import type { AlertService } from "./alerts/service.js";
import type { CatalogService } from "./catalogs.js";
import type { ServerConfig } from "./config.js";
import type { GitGate } from "./git/gate.js";
import type { Metrics } from "./plugins/metrics.js";
import type { PushSignals } from "./push/signals.js";
import type { RolloutEngine } from "./rollouts/engine.js";
import type { Pins } from "./rollouts/pins.js";
import type { ServedCommits } from "./served-commits.js";
import type { Rollouts, Signals } from "./signals.js";
import type { SigningKey } from "./signing.js";
import type { Storage } from "./storage/types.js";

export interface Deps {
  config: ServerConfig;
  storage: Storage;
  key: SigningKey;
  gate: GitGate | null;
  catalogs: CatalogService;
  /** Which commits each node was served: a report's commit is trusted only if it was (issue 15). */
  served: ServedCommits;
  metrics: Metrics;
  alerts: AlertService;
  /** The address people reach the server at (`public_url`, else the listen address). */
  publicUrl: string;
  /** The push channel: the streams held here and the signals sent to them (server/push/). */
  push: PushSignals;
  now: () => number;
  /** What sends signals for the console's "run now", "plan now": `push`, unless a test replaces it (signals.ts). */
  signals: Signals | null;
  /** Issue 11's rollouts ("Deploy"); null until they are connected (signals.ts). */
  rollouts: Rollouts | null;
  /** The rollout engine and the per-node commit pins the catalog route serves (server/rollouts/). */
  deploys: { engine: RolloutEngine; pins: Pins };
}
