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
import { environmentNodes } from "./environments.js";
import { environmentMetrics } from "./environments-metrics.js";
import type { GitGate } from "./git/gate.js";
import { errorSchema } from "./http.js";
import { authPlugin } from "./plugins/auth.js";
import { decompressPlugin } from "./plugins/decompress.js";
import { errorsPlugin } from "./plugins/errors.js";
import { guardPlugin } from "./plugins/guard.js";
import { Metrics, metricsPlugin } from "./plugins/metrics.js";
import { PgBus } from "./push/bus.js";
import { PushSignals } from "./push/signals.js";
import { RolloutEngine } from "./rollouts/engine.js";
import { Pins } from "./rollouts/pins.js";
import { adminRoutes } from "./routes/admin.js";
import { agentBundleRoutes } from "./routes/agent-bundle.js";
import { alertRoutes } from "./routes/alerts.js";
import { catalogRoutes } from "./routes/catalog.js";
import { consoleApiRoutes } from "./routes/console-api.js";
import { enrollRoutes } from "./routes/enroll.js";
import { environmentRoutes } from "./routes/environments.js";
import { healthRoutes, type RouteRecord, recordRoutes } from "./routes/health.js";
import { hookRoutes } from "./routes/hooks.js";
import { nodeFactsRoutes } from "./routes/node-facts.js";
import { pushRoutes } from "./routes/push.js";
import { reportRoutes } from "./routes/reports.js";
import { rolloutRoutes } from "./routes/rollouts.js";
import { timelineApiRoutes } from "./routes/timeline.js";
import { uiRoutes } from "./routes/ui.js";
import { usersApiRoutes } from "./routes/users-api.js";
import { ServedCommits } from "./served-commits.js";
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
  /** The request and connection (inactivity) timeouts: 30 s (TRUST E3); tests shorten them. */
  timeoutMs?: number;
  /** PEM certificate and key: serve HTTPS (TLS 1.2+). */
  https?: { cert: Buffer; key: Buffer } | null;
  now?: () => number;
  /**
   * What the console's run and plan buttons signal through (server/signals.ts): by default this
   * server's push channel; a test may pass a stand-in, or null for a server without it.
   */
  signals?: Signals | null;
  /** What the console's Deploy button starts: by default this server's rollout engine. */
  rollouts?: Rollouts | null;
  /** How often the rollout timer looks for due and timed-out waves (1 s; tests shorten it). */
  rolloutTickMs?: number;
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
    // A push stream is exempt from the inactivity timeout (routes/push.ts); the request timeout
    // ends when a request has been read, so a stream, a GET, is past it at once.
    requestTimeout: o.timeoutMs ?? 30_000,
    connectionTimeout: o.timeoutMs ?? 30_000,
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
  const push = new PushSignals({
    storage: o.storage,
    metrics,
    push: o.config.push,
    now,
    warn: (message, err) => app.log.warn({ err: (err as Error | undefined)?.message }, message),
    adoptCommit: async (sha) => {
      if (deps.gate && deps.gate.live?.sha !== sha) await deps.gate.loadLive();
    },
  });
  const deps = {
    config: o.config,
    storage: o.storage,
    key: o.key,
    gate: null,
    catalogs: new CatalogService(o.compiler, o.key, o.config.inlineFileBytes, metrics),
    served: new ServedCommits(o.storage),
    metrics,
    publicUrl: o.config.publicUrl ?? listenUrl(o.config),
    push,
    now,
    signals: o.signals === undefined ? push : o.signals,
  } as Deps;
  const engine = new RolloutEngine({
    storage: o.storage,
    push,
    gate: () => deps.gate,
    deploy: o.config.deploy,
    now,
    log: app.log,
    tickMs: o.rolloutTickMs,
  });
  deps.deploys = {
    engine,
    pins: new Pins(
      o.storage,
      () => o.config.deploy.onCommit,
      (message, err) => app.log.warn({ err: (err as Error | undefined)?.message }, message),
    ),
  };
  // By default the console's Deploy button starts real rollouts; a test may pass a stand-in or null.
  deps.rollouts = o.rollouts === undefined ? engine : o.rollouts;
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
  metrics.pushStreams = () => push.hub.size;
  metrics.more.push(environmentMetrics(deps));
  if (o.gate) connectGate(deps, o.gate);
  if (o.storage.kind === "postgres" && /^postgres(ql)?:/.test(o.config.database)) {
    const bus = new PgBus({
      url: o.config.database,
      schema: o.config.databaseSchema,
      onMessage: (m) =>
        void push
          .onMessage(m)
          .catch((err) => app.log.warn({ err: (err as Error).message }, "push message failed")),
      onResync: () =>
        void push
          .resync()
          .catch((err) => app.log.warn({ err: (err as Error).message }, "push resync failed")),
      warn: (message, err) => app.log.warn({ err: (err as Error | undefined)?.message }, message),
    });
    push.useBus(bus);
    await bus.start();
  }
  // Streams end before the server closes (it would wait for them); agents come back over `retry:`.
  app.addHook("preClose", async () => push.hub.endAll());
  app.addHook("onClose", async () => {
    engine.stop();
    await push.close();
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
  environmentRoutes(app, deps);
  nodeFactsRoutes(app, deps);
  reportRoutes(app, deps);
  adminRoutes(app, deps);
  alertRoutes(app, deps);
  rolloutRoutes(app, deps);
  pushRoutes(app, deps);
  consoleApiRoutes(app, deps);
  usersApiRoutes(app, deps);
  agentBundleRoutes(app, o.key);
  uiRoutes(app, deps);
  timelineApiRoutes(app, deps);
  await hookRoutes(app, deps);
  healthRoutes(app, deps, routes);
  await app.ready();
  return { app, deps, routes };
}

/**
 * Serves `gate`'s live commits, and signals the nodes of an environment when it promotes a new
 * one (every node for the default environment's: nodes never classified are in it).
 */
export function connectGate(deps: Deps, gate: GitGate): void {
  deps.gate = gate;
  // The default branch's new commit: deploy.on_commit says signal every node (push), start a
  // rollout (auto) or wait for a deploy (manual). Another branch's: signal its environment's nodes.
  gate.onPromote = (sha, branch) => {
    const sent =
      branch === gate.defaultBranch
        ? deps.deploys.engine.onPromote(sha)
        : environmentNodes(deps.storage, branch).then((nodes) =>
            deps.push.send(nodes, "commit", { commit: sha }),
          );
    sent.catch((err) => gate.warn("push: the new commit was not signalled or rolled out", err));
  };
}
