/** What the routes are given: built once in app.ts. */
import type { CatalogService } from "./catalogs.js";
import type { ServerConfig } from "./config.js";
import type { GitGate } from "./git/gate.js";
import type { Metrics } from "./plugins/metrics.js";
import type { Signals } from "./push/signals.js";
import type { SigningKey } from "./signing.js";
import type { Storage } from "./storage/types.js";

export interface Deps {
  config: ServerConfig;
  storage: Storage;
  key: SigningKey;
  gate: GitGate | null;
  catalogs: CatalogService;
  metrics: Metrics;
  /** The push channel: streams held here and the signals sent to them. */
  signals: Signals;
  now: () => number;
}
