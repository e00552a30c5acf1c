/**
 * One agent run: facts → catalog from the server (If-None-Match; verified against the pinned key;
 * never a serial below the last applied) or, when the server cannot give one, the last verified
 * cached catalog (unless older than max_cached_age: then nothing is applied and the report says
 * `stale`) → converge → report, spooled on disk before it is sent. A catalog the agent refuses (bad
 * signature, rolled-back serial, invalid, over the size cap) applies nothing, and a failed report
 * saying why goes to the server all the same (TRUST A9/F2), so admins see which nodes refuse.
 */
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ErrorCode } from "../core/codes.js";
import { isTendError, TendError } from "../core/errors.js";
import type { Catalog, CheckReport, Facts, Report, ResourceReport } from "../core/types.js";
import { type EnvironmentHeaders, NodeApi } from "./client/api.js";
import { ensureStateDir, type Identity, requireIdentity } from "./client/identity.js";
import { type Envelope, verifyEnvelope } from "./client/verify.js";
import { type AgentConfig, scheduleIntervalS } from "./config.js";
import { type HttpOptions, HttpStatusError, UnreachableError } from "./http.js";
import { errorText, summarize } from "./report.js";
import type { ContentFile } from "./resources/kind.js";
import { CatalogCache } from "./store/catalog-cache.js";
import { runFacts } from "./store/kept-facts.js";
import { type FlushResult, Spool } from "./store/report-spool.js";
import { hashFileSync } from "./sys/hash-file.js";
import { FightGuard } from "./watch/guard.js";
import { afterFullRun, afterWatchRun, watchTargets } from "./watch/run.js";

export interface RunOptions {
  noop?: boolean;
  signal?: AbortSignal;
  /** Progress and warnings for a person (stderr in the CLI). */
  log?: (message: string) => void;
  onResource?: (r: ResourceReport) => void;
  onCheck?: (c: CheckReport) => void;
  facts?: Facts;
  http?: HttpOptions;
  now?: () => number;
  /** What started the run; `watch` converges `only`, from the cached catalog (agent/watch/run.ts). */
  trigger?: Report["trigger"];
  /** Watch runs: the resources that changed. */
  only?: readonly string[];
}

export interface RunResult {
  report: Report;
  /** Where the catalog came from and why, in a sentence (cache and stale runs). */
  notice: string | null;
  flush: FlushResult;
}

interface Chosen {
  envelope: Envelope;
  source: "server" | "cache";
  ageS: number;
  notice: string | null;
  /** The server answered 304: the cached catalog is still this node's. */
  notModified?: boolean;
  /** The environment the server served, and why not the one asked for (fresh catalogs only). */
  env?: EnvironmentHeaders;
}

/** Errors after which the cache is used: the server is away, failing, or cannot compile for us. */
function serverFailed(err: unknown): boolean {
  if (err instanceof UnreachableError) return true;
  return (
    err instanceof HttpStatusError &&
    (err.status >= 500 || err.status === 429 || err.status === 422 || err.status === 404)
  );
}

async function chooseCatalog(
  api: NodeApi,
  id: Identity,
  cache: CatalogCache,
  facts: Facts,
  now: number,
  environment: string | null,
  noop = false,
): Promise<Chosen> {
  let fresh: Awaited<ReturnType<NodeApi["catalog"]>>;
  try {
    fresh = await api.catalog(facts, await cache.etag(), undefined, environment, noop);
  } catch (err) {
    if (!serverFailed(err)) throw err;
    const cached = await cache.load(id.server_key, id.node);
    if (!cached) {
      throw new TendError(
        "TEND_E_CATALOG",
        `no catalog: the server failed (${errorText(err)}) and there is no cached catalog yet`,
      );
    }
    const ageS = Math.max(0, Math.round((now - cached.fetchedAt) / 1000));
    return {
      envelope: cached.envelope,
      source: "cache",
      ageS,
      notice: `the server failed (${errorText(err)}); using the cached catalog of ${new Date(cached.fetchedAt).toISOString()} (${ageText(ageS)} old)`,
    };
  }
  if (fresh.status === 304) {
    const cached = await cache.load(id.server_key, id.node);
    if (!cached)
      throw new TendError("TEND_E_CATALOG", "the server answered 304 but there is no cached catalog");
    await cache.confirm(now);
    return {
      envelope: cached.envelope,
      source: "server",
      ageS: 0,
      notice: null,
      notModified: true,
      env: fresh.env,
    };
  }
  const envelope = verifyEnvelope(fresh.envelope, id.server_key, id.node, "the catalog from the server");
  const applied = await cache.appliedSerial();
  if (envelope.serial < applied) {
    throw new TendError(
      "TEND_E_CATALOG_ROLLBACK",
      `the server sent catalog serial ${envelope.serial}, older than serial ${applied} already applied; refused (a replayed or rolled-back catalog)`,
    );
  }
  // A preview (a noop rollout's commit, not this node's own) is planned, never kept as the catalog.
  if (fresh.preview)
    return {
      envelope,
      source: "server",
      ageS: 0,
      notice: `previewing commit ${fresh.preview.slice(0, 12)}`,
      env: fresh.env,
    };
  await cache.store(envelope, fresh.etag, now);
  return { envelope, source: "server", ageS: 0, notice: null, env: fresh.env };
}

/** A watch run's catalog: the cached one, verified again, as a cache run takes it. */
async function cachedCatalog(id: Identity, cache: CatalogCache, now: number): Promise<Chosen> {
  const cached = await cache.load(id.server_key, id.node);
  if (!cached) throw new TendError("TEND_E_CATALOG", "watch: there is no cached catalog yet to repair from");
  const ageS = Math.max(0, Math.round((now - cached.fetchedAt) / 1000));
  return { envelope: cached.envelope, source: "cache", ageS, notice: null };
}

/** Why a run could not get a catalog it would apply: worth telling the server. */
const REFUSALS: ReadonlySet<ErrorCode> = new Set([
  "TEND_E_CATALOG",
  "TEND_E_CATALOG_SIGNATURE",
  "TEND_E_CATALOG_ROLLBACK",
]);

/**
 * The run refused its catalog (or had none) and applied nothing; `report` (status failed, the
 * error with its code, no resources and nothing of the refused catalog) went to the spool and,
 * when the server took it, to the server. Same code and message as the refusal, plus where the
 * report went.
 */
export class CatalogRefusedError extends TendError {
  constructor(
    readonly refusal: TendError,
    readonly report: Report,
    readonly flush: FlushResult,
  ) {
    const where =
      flush.left === 0
        ? `reported to the server as failed run ${report.id}`
        : `failed run ${report.id} kept in the spool for the server (${flush.error ?? "not sent yet"})`;
    super(refusal.code, `${refusal.message}\nnothing was applied; ${where}`);
  }
}

function refusedReport(node: string, err: TendError, noop: boolean, startedAt: Date, end: number): Report {
  return {
    format: 1,
    id: crypto.randomUUID(),
    node,
    // The refused catalog's commit is not trusted, and nothing of its content is repeated.
    commit: null,
    mode: noop ? "noop" : "apply",
    status: "failed",
    started_at: startedAt.toISOString(),
    duration_ms: Math.max(0, end - startedAt.getTime()),
    catalog_source: "server",
    catalog_age_s: 0,
    summary: summarize([]),
    error: `${errorText(err)}; nothing was applied`.slice(0, 65_536),
    resources: [],
  };
}

export function ageText(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

function staleReport(catalog: Catalog, ageS: number, maxS: number, noop: boolean, startedAt: Date): Report {
  return {
    format: 1,
    id: crypto.randomUUID(),
    node: catalog.node,
    commit: catalog.commit,
    mode: noop ? "noop" : "apply",
    status: "stale",
    started_at: startedAt.toISOString(),
    duration_ms: 0,
    catalog_source: "cache",
    catalog_age_s: ageS,
    summary: summarize([]),
    error: `the cached catalog is ${ageText(ageS)} old, past max_cached_age (${ageText(maxS)}): nothing was applied [TEND_E_CATALOG_STALE]`,
    resources: [],
  };
}

/**
 * The report says how often this agent runs (its schedule's shortest gap), so the server can tell
 * a node that stopped reporting (stale) from one that runs rarely.
 */
function withInterval(report: Report, config: AgentConfig): Report {
  const s = scheduleIntervalS(config.schedule);
  if (s > 0) report.interval_s = s;
  return report;
}

/** The report says which environment the server served, and why not the one asked for. */
function withEnvironment(report: Report, env: EnvironmentHeaders | undefined): Report {
  if (env?.environment) report.environment = env.environment.slice(0, 200);
  if (env?.note) report.environment_note = env.note.slice(0, 2000);
  return report;
}

/** One run against the server. The caller holds the run lock (unless noop). */
export async function agentRun(config: AgentConfig, o: RunOptions = {}): Promise<RunResult> {
  return (await run(config, o, false))!;
}

/**
 * A run for a "new commit" push signal: when the server answers 304 (this node's catalog did not
 * change with the commit), nothing is converged or reported and the answer is null; otherwise
 * the run as `agentRun`.
 */
export function agentRunIfChanged(config: AgentConfig, o: RunOptions = {}): Promise<RunResult | null> {
  return run(config, o, true);
}

async function run(config: AgentConfig, o: RunOptions, ifChanged: boolean): Promise<RunResult | null> {
  const now = o.now ?? Date.now;
  const startedAt = new Date(now());
  const log = o.log ?? (() => {});
  const noop = o.noop ?? false;
  const id = await requireIdentity(config.stateDir);
  if (id.node !== config.node) {
    throw new TendError(
      "TEND_E_AGENT_ENROLL",
      `the configuration names node ${config.node} but this agent is enrolled as ${id.node}; enrol again with --force`,
    );
  }
  await ensureStateDir(config.stateDir);
  const api = new NodeApi(config.server, id.credential, o.http);
  const cache = new CatalogCache(config.stateDir);
  const spool = new Spool(config.stateDir, {
    maxReports: config.spoolMaxReports,
    maxBytes: config.spoolMaxBytes,
  });
  const watching = o.trigger === "watch";
  // A watch run takes the facts the last full run kept (agent/store/kept-facts.ts).
  const facts =
    o.facts ??
    (await runFacts(config.stateDir, { watch: watching, keep: !noop }, async () =>
      (await import("./facts/index.js")).gatherFacts(),
    ));
  let chosen: Chosen;
  try {
    // A watch run repairs toward the catalog already here: no server round-trip.
    chosen = watching
      ? await cachedCatalog(id, cache, now())
      : await chooseCatalog(api, id, cache, facts, now(), config.environment, noop);
  } catch (err) {
    if (!isTendError(err) || !REFUSALS.has(err.code)) throw err;
    const report = withInterval(refusedReport(id.node, err, noop, startedAt, now()), config);
    await spool.add(report);
    const flush = await spool.flush((r) => api.report(r));
    throw new CatalogRefusedError(err, report, flush);
  }
  if (ifChanged && chosen.notModified) return null;
  if (chosen.notice) log(`tend: ${chosen.notice}`);
  // A refused environment (or a branch gone) is said on every run that asks, not only on changes.
  if (chosen.env?.note) log(`tend: ${chosen.env.note}`);
  const catalog = chosen.envelope.catalog;
  let report: Report;
  if (chosen.source === "cache" && chosen.ageS > config.maxCachedAgeS) {
    report = staleReport(catalog, chosen.ageS, config.maxCachedAgeS, noop, startedAt);
    log(`tend: ${report.error}`);
    // Said once by the scheduled run; a change seen meanwhile adds nothing to it.
    if (watching) return { report, notice: chosen.notice, flush: { sent: 0, rejected: 0, left: 0 } };
  } else {
    const [{ runCatalog }, { kinds }] = await Promise.all([
      import("./engine/index.js"),
      import("./resources/index.js"),
    ]);
    // Fetched by hash: streamed into state_dir/files/ and checked there, then read back (checked again).
    const filesDir = join(config.stateDir, "files");
    const fetchContent = async (sha: string): Promise<Buffer> => {
      const kept = await cache.file(sha);
      if (kept) return kept;
      await mkdir(filesDir, { recursive: true, mode: 0o700 });
      await api.fileTo(sha, filesDir, catalog.files[sha]?.size);
      const data = await cache.file(sha);
      if (!data) throw new TendError("TEND_E_CATALOG", `file ${sha} changed on disk as it was fetched`);
      return data;
    };
    // For kinds that copy large content in chunks: the kept file when it still hashes right (read
    // in chunks, never whole), else fetched again (streamed to disk and checked as it arrives).
    const fetchContentFile = async (sha: string): Promise<ContentFile> => {
      const kept = join(filesDir, sha);
      const st = await stat(kept).catch(() => null);
      if (st?.isFile() && /^[0-9a-f]{64}$/.test(sha) && hashFileSync(kept) === sha)
        return { path: kept, size: st.size };
      await mkdir(filesDir, { recursive: true, mode: 0o700 });
      const path = await api.fileTo(sha, filesDir, catalog.files[sha]?.size);
      return { path, size: (await stat(path)).size };
    };
    const guard = noop || !(config.watch || watching) ? null : await FightGuard.load(config.stateDir);
    const only = watching && guard ? watchTargets(o.only ?? [], guard) : undefined;
    report = await runCatalog(catalog, {
      kinds,
      facts,
      stateDir: config.stateDir,
      noop,
      signal: o.signal,
      log,
      onResource: o.onResource,
      onCheck: o.onCheck,
      catalogSource: chosen.source,
      catalogAgeS: chosen.ageS,
      fetchContent,
      fetchContentFile,
      only,
      trigger: o.trigger,
    });
    if (!noop && chosen.source === "server") await cache.markApplied(chosen.envelope.serial);
    if (guard && only) {
      const worth = afterWatchRun(report, only, guard, config.watchGuard, now());
      await guard.save(config.stateDir);
      // Nothing was out of place (a write that changed nothing, another package's install): no report.
      if (!worth) return { report, notice: chosen.notice, flush: { sent: 0, rejected: 0, left: 0 } };
    } else if (guard) await afterFullRun(catalog, kinds, guard, config.stateDir);
  }
  await spool.add(withEnvironment(withInterval(report, config), chosen.env));
  const flush = await spool.flush((r) => api.report(r));
  if (flush.error) log(`tend: ${flush.left} report(s) kept in the spool: ${flush.error}`);
  return { report, notice: chosen.notice, flush };
}

/** Sends what is in the spool now (the daemon's retries between runs). */
export async function flushSpool(config: AgentConfig, http?: HttpOptions): Promise<FlushResult> {
  const id = await requireIdentity(config.stateDir);
  const api = new NodeApi(config.server, id.credential, http);
  const spool = new Spool(config.stateDir, {
    maxReports: config.spoolMaxReports,
    maxBytes: config.spoolMaxBytes,
  });
  return spool.flush((r) => api.report(r));
}
