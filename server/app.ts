/**
 * The server as a fastify instance, built in one function and never listening here (main.ts
 * listens; tests use `inject()`). Order matters: overload and encoding guards, then auth, then
 * each area's routes.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import { AlertService, type AlertServiceOptions } from "./alerts/service.js";
import type { Sink } from "./alerts/sinks.js";
import { CatalogService } from "./catalogs.js";
import type { CompilerFns } from "./compiler.js";
import type { ServerConfig } from "./config.js";
import type { Deps } from "./deps.js";
import type { GitGate } from "./git/gate.js";
import { errorSchema } from "./http.js";
import { authPlugin } from "./plugins/auth.js";
import { decompressPlugin } from "./plugins/decompress.js";
import { errorsPlugin } from "./plugins/errors.js";
import { guardPlugin } from "./plugins/guard.js";
import { Metrics, metricsPlugin } from "./plugins/metrics.js";
import { adminRoutes } from "./routes/admin.js";
import { agentBundleRoutes } from "./routes/agent-bundle.js";
import { alertRoutes } from "./routes/alerts.js";
import { catalogRoutes } from "./routes/catalog.js";
import { consoleApiRoutes } from "./routes/console-api.js";
import { enrollRoutes } from "./routes/enroll.js";
import { healthRoutes, type RouteRecord, recordRoutes } from "./routes/health.js";
import { hookRoutes } from "./routes/hooks.js";
import { reportRoutes } from "./routes/reports.js";
import { uiRoutes } from "./routes/ui.js";
import { usersApiRoutes } from "./routes/users-api.js";
import type { Rollouts, Signals } from "./signals.js";
import type { SigningKey } from "./signing.js";
import type { Storage } from "./storage/types.js";

export interface AppOptions {
  config: ServerConfig;
  storage: Storage;
  key: SigningKey;
  compiler: CompilerFns;
  gate?: GitGate | null;
  logger?: FastifyServerOptions["logger"];
  /** PEM certificate and key: serve HTTPS (TLS 1.2+). */
  https?: { cert: Buffer; key: Buffer } | null;
  now?: () => number;
  /** Issue 11's push channel and rollouts, when present (server/signals.ts). */
  signals?: Signals | null;
  rollouts?: Rollouts | null;
  /** Alert sinks with their secrets read (alerts/sinks.ts `loadSinks`); none by default. */
  sinks?: Sink[];
  /** Delivery worker timings (tests shorten them). */
  alertWorker?: AlertServiceOptions["worker"];
}

/** The listen address as a URL, the default `public_url`. */
export function listenUrl(config: ServerConfig): string {
  const host = config.listen.host.includes(":") ? `[${config.listen.host}]` : config.listen.host;
  return `${config.tls ? "https" : "http"}://${host}:${config.listen.port}`;
}

export interface App {
  app: FastifyInstance;
  deps: Deps;
  routes: RouteRecord[];
}

export async function buildApp(o: AppOptions): Promise<App> {
  const options: FastifyServerOptions & { https?: object } = {
    logger: o.logger ?? false,
    bodyLimit: o.config.limits.bodyBytes,
    requestTimeout: 30_000,
    connectionTimeout: 30_000,
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    // Behind a proxy, trust its one hop only: the client's own X-Forwarded-For must not pick the
    // address the enrolment rate limit counts.
    trustProxy: o.config.behindTlsProxy ? (_address: string, hop: number) => hop === 0 : false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  };
  if (o.https) options.https = { ...o.https, minVersion: "TLSv1.2" };
  const app = Fastify(options) as unknown as FastifyInstance;
  const metrics = new Metrics();
  const now = o.now ?? Date.now;
  const deps = {
    config: o.config,
    storage: o.storage,
    key: o.key,
    gate: o.gate ?? null,
    catalogs: new CatalogService(o.compiler, o.key, o.config.inlineFileBytes, metrics),
    metrics,
    publicUrl: o.config.publicUrl ?? listenUrl(o.config),
    now,
    signals: o.signals ?? null,
    rollouts: o.rollouts ?? null,
  } as Deps;
  deps.alerts = new AlertService({
    storage: o.storage,
    sinks: o.sinks ?? [],
    alerts: o.config.alerts,
    defaultIntervalMs: o.config.agentIntervalMs,
    keepDays: o.config.keepDays,
    server: () => deps.publicUrl,
    now,
    log: app.log,
    onOutcome: (sink, outcome, n) => metrics.alertDelivery(sink, outcome, n),
    worker: o.alertWorker,
  });
  const routes = recordRoutes(app);
  app.removeContentTypeParser("text/plain");
  app.addSchema(errorSchema);
  errorsPlugin(app);
  guardPlugin(app, o.config.limits.maxInFlight);
  decompressPlugin(app, o.config.limits.bodyBytes);
  authPlugin(app, o.storage, now);
  metricsPlugin(app, metrics);
  enrollRoutes(app, deps);
  catalogRoutes(app, deps);
  reportRoutes(app, deps);
  adminRoutes(app, deps);
  alertRoutes(app, deps);
  consoleApiRoutes(app, deps);
  usersApiRoutes(app, deps);
  agentBundleRoutes(app, o.key);
  uiRoutes(app, deps);
  await hookRoutes(app, deps);
  healthRoutes(app, deps, routes);
  await app.ready();
  return { app, deps, routes };
}
