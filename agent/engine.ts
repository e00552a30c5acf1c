/**
 * The converge engine: walks a catalog's resources in their (dependency) order and, for each,
 * check → apply → check again, knowing no kind. It owns ordering, noop, notifications, failure
 * isolation, time budgets, drift versus deploy and the report; docs/engine.md is the contract.
 */
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import type {
  Catalog,
  CatalogResource,
  Change,
  Facts,
  Json,
  Report,
  ResourceReport,
  ResourceType,
} from "../core/types.js";
import { type Budget, budget } from "./engine/budget.js";
import { buildGraph } from "./engine/graph.js";
import { errorText, runStatus, summarize } from "./report.js";
import type { Kind, KindContext } from "./resources/kind.js";
import { loadEnforced, sameEnforced, saveEnforced, shortDigest } from "./store/enforced-digests.js";
import { NotifyJournal } from "./store/notify-journal.js";

export interface EngineOptions {
  /** The resource kinds, by type (agent/resources/index.ts in production; tests pass their own). */
  kinds: Partial<Record<ResourceType, Kind>>;
  stateDir: string;
  facts: Facts;
  /** Plan only: check, never apply, write nothing. */
  noop?: boolean;
  /** Budget for one resource (prefetch, check, apply, verify, refresh), in ms; default 15 min. */
  resourceTimeoutMs?: number;
  /** Aborting it stops the run: the current resource fails, the rest are skipped. */
  signal?: AbortSignal;
  log?: (message: string) => void;
  /** Called whenever a resource's outcome is settled (again, when a late refresh changes it). */
  onResource?: (report: ResourceReport, resource: CatalogResource) => void;
  catalogSource?: Report["catalog_source"];
  catalogAgeS?: number;
  /**
   * Content the catalog does not carry inline, by sha256 (above the server's threshold; every file of
   * a catalog from the compile cache); must check the hash. Called only when a kind needs the bytes.
   */
  fetchContent?: (sha: string) => Promise<Buffer>;
}

const DEFAULT_TIMEOUT_MS = 15 * 60_000;
const SETTLED_OK = new Set(["unchanged", "changed", "would-change", "unknown"]);

/** The budget for one resource: the default, or more when the resource's own `timeout` (s) needs it. */
function timeoutFor(res: CatalogResource, base: number): number {
  const own = res.params.timeout;
  return typeof own === "number" && own > 0 ? Math.max(base, (2 * own + 60) * 1000) : base;
}

function contentOf(
  catalog: Catalog,
  fetch?: (sha: string) => Promise<Buffer>,
): (sha: string) => Promise<Buffer> {
  return async (sha) => {
    const f = catalog.files[sha];
    if (f?.text !== undefined) return Buffer.from(f.text, "utf8");
    if (f?.base64 !== undefined) return Buffer.from(f.base64, "base64");
    // Not inline: listed without content (fetched by hash from the server), or not listed at all
    // (a catalog from the compile cache, whose contents are in the content store).
    if (fetch) return fetch(sha);
    throw new Error(`the catalog carries no content for sha256 ${sha}`);
  };
}

export async function runCatalog(catalog: Catalog, options: EngineOptions): Promise<Report> {
  const startedAt = new Date();
  const t0 = performance.now();
  const noop = options.noop ?? false;
  const resources = catalog.resources;
  const { index, upstream } = buildGraph(resources);
  if (!noop) await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
  const enforced = await loadEnforced(options.stateDir);
  const journal = await NotifyJournal.load(options.stateDir, { dry: noop });
  const reports = new Map<string, ResourceReport>();
  const prefetches = new Map<ResourceType, Promise<unknown>>();
  const late: string[] = [];
  const scratch: Record<string, Json> = {};
  const content = contentOf(catalog, options.fetchContent);
  const log = options.log ?? (() => {});
  const baseTimeout = options.resourceTimeoutMs ?? DEFAULT_TIMEOUT_MS;

  // One listener for the whole run: stopping it fires the budget of the resource in progress.
  let current: Budget | null = null;
  const stopped = () => current?.fire(new Error("the run was stopped"));
  options.signal?.addEventListener("abort", stopped, { once: true });
  const begin = (res: CatalogResource): Budget => {
    current = budget(timeoutFor(res, baseTimeout));
    if (options.signal?.aborted) stopped();
    return current;
  };

  const context = (b: Budget, prefetched: unknown): KindContext => ({
    facts: options.facts,
    noop,
    get signal() {
      return b.signal;
    },
    stateDir: options.stateDir,
    content,
    prefetched,
    run: scratch,
    log,
  });

  const prefetch = (kind: Kind, b: Budget): Promise<unknown> => {
    let p = prefetches.get(kind.type);
    if (!p) {
      // The whole ordered catalog: a kind takes its own type from it, and may need the order
      // around its resources (the package kind batches installs of neighbouring packages).
      p = kind.prefetch
        ? b.run(() => kind.prefetch!(resources, context(b, undefined)))
        : Promise.resolve(undefined);
      p.catch(() => {}); // each resource of the kind reports the failure when it awaits it
      prefetches.set(kind.type, p);
    }
    return p.catch((err) => {
      throw new Error(`reading the ${kind.type} resources failed: ${errorText(err)}`);
    });
  };

  /** Deliver the refreshes owed to `res` (if any) now that it is settled and healthy. */
  const deliver = async (
    res: CatalogResource,
    r: ResourceReport,
    kind: Kind,
    b: Budget,
    ctx: KindContext,
  ) => {
    const sources = journal.pending.get(res.id);
    if (!sources) return;
    if (!kind.refresh) {
      await journal.done(res.id); // nothing to do on a notification for this kind
      return;
    }
    r.changes.push({ property: "refresh", from: null, to: [...sources] });
    if (noop) {
      if (r.status === "unchanged") r.status = "would-change";
      return;
    }
    const result = await b.run(() => kind.refresh!(res, ctx));
    if (result?.output) r.output = r.output ? `${r.output}\n${result.output}` : result.output;
    r.status = "changed";
    await journal.done(res.id);
  };

  const converge = async (
    res: CatalogResource,
    r: ResourceReport,
    kind: Kind,
    b: Budget,
    uncertain: boolean,
  ) => {
    const ctx = context(b, await prefetch(kind, b));
    const found = await b.run(() => kind.check(res, ctx));
    if (found.changes.length === 0) {
      r.status = uncertain ? "unknown" : "unchanged";
    } else {
      r.changes = [...found.changes];
      r.diff = found.diff ?? null;
      r.drifted = !uncertain && enforced.get(res.id) === shortDigest(res.digest);
      const targets = res.notify.filter((t) => index.has(t));
      // Durable before the change starts: a kill after the change cannot lose the notification.
      await journal.add(targets, res.id);
      for (const t of targets) if (index.get(t)! < index.get(res.id)!) late.push(t);
      if (noop) {
        r.status = uncertain ? "unknown" : "would-change";
      } else {
        const result = await b.run(() => kind.apply(res, found.changes, ctx));
        if (result?.output) r.output = result.output;
        const after = await b.run(() => kind.check(res, ctx));
        if (after.changes.length > 0) {
          throw new Error(`did not converge: ${describe(after.changes)} still differ after apply`);
        }
        r.status = "changed";
      }
    }
    await deliver(res, r, kind, b, ctx);
  };

  const step = async (res: CatalogResource): Promise<ResourceReport> => {
    const started = performance.now();
    const r: ResourceReport = {
      id: res.id,
      type: res.type,
      status: "unchanged",
      drifted: false,
      changes: [],
      diff: null,
      error: null,
      duration_ms: 0,
    };
    const ups = (upstream.get(res.id) ?? []).map((id) => reports.get(id)!).filter(Boolean);
    const blocker = ups.find((u) => u.status === "failed" || u.status === "skipped");
    const kind = options.kinds[res.type];
    if (options.signal?.aborted) {
      r.status = "skipped";
      r.error = "the run was stopped before this resource";
    } else if (blocker) {
      r.status = "skipped";
      r.error = `${blocker.id} ${blocker.status === "failed" ? "failed" : "was skipped"}`;
    } else if (!kind) {
      r.status = "failed";
      r.error = `this agent has no resource kind "${res.type}"`;
    } else {
      const uncertain = noop && ups.some((u) => u.status === "would-change" || u.status === "unknown");
      const b = begin(res);
      try {
        await converge(res, r, kind, b, uncertain);
      } catch (err) {
        // In a plan, a resource after a would-change may fail its check only because that change
        // has not happened: its outcome is unknown, not a failure.
        r.status = uncertain ? "unknown" : "failed";
        r.error = errorText(err);
      } finally {
        b.dispose();
      }
    }
    r.duration_ms = Math.round((performance.now() - started) * 1000) / 1000;
    return r;
  };

  for (const res of resources) {
    const r = await step(res);
    reports.set(res.id, r);
    options.onResource?.(r, res);
  }

  // Notifications to resources that ran before their notifier (an order the compiler avoids):
  // delivered once each, after the walk.
  for (const id of new Set(late)) {
    const r = reports.get(id)!;
    const res = resources[index.get(id)!]!;
    const kind = options.kinds[res.type];
    if (!kind || !SETTLED_OK.has(r.status) || r.changes.some((c) => c.property === "refresh")) continue;
    // A notifier that failed keeps its notification pending, as for a target after it (skipped).
    const sources = journal.pending.get(id) ?? [];
    if (sources.some((s) => !SETTLED_OK.has(reports.get(s)?.status ?? "unchanged"))) continue;
    const b = begin(res);
    try {
      await deliver(res, r, kind, b, context(b, await prefetch(kind, b)));
    } catch (err) {
      r.status = "failed";
      r.error = `refresh failed: ${errorText(err)}`;
    } finally {
      b.dispose();
    }
    options.onResource?.(r, res);
  }

  options.signal?.removeEventListener("abort", stopped);
  let error: string | null = null;
  if (!noop) {
    // Work the kinds batched over the run (the file kind's directory fsyncs) is made durable
    // before state.json records what was enforced.
    for (const [type, p] of prefetches) {
      const kind = options.kinds[type];
      const prefetched = await p.catch(() => undefined);
      if (!kind?.settle || prefetched === undefined) continue;
      const b = budget(baseTimeout);
      try {
        await b.run(() => kind.settle!(prefetched, context(b, undefined)));
      } catch (err) {
        error ??= `could not finish the ${type} resources' changes: ${errorText(err)}`;
      } finally {
        b.dispose();
      }
    }
    try {
      await journal.compact(new Set(index.keys()));
      const recorded = (res: CatalogResource): string | undefined => {
        const status = reports.get(res.id)!.status;
        return status === "unchanged" || status === "changed"
          ? shortDigest(res.digest)
          : enforced.get(res.id);
      };
      // The common case, a run that enforced what was already recorded, builds no second map.
      let kept = 0;
      let same = true;
      for (const res of resources) {
        const digest = recorded(res);
        if (digest === undefined) continue;
        kept++;
        if (enforced.get(res.id) !== digest) {
          same = false;
          break;
        }
      }
      // When a kind could not finish, the run's changes may not be durable: record nothing.
      if (!error && !(same && kept === enforced.size)) {
        const next = new Map<string, string>();
        for (const res of resources) {
          const digest = recorded(res);
          if (digest !== undefined) next.set(res.id, digest);
        }
        if (!sameEnforced(next, enforced)) await saveEnforced(options.stateDir, next);
      }
    } catch (err) {
      error ??= `could not record the run's state in ${options.stateDir}: ${errorText(err)}`;
    }
  } else {
    await journal.close();
  }

  const list = resources.map((res) => reports.get(res.id)!);
  const summary = summarize(list);
  return {
    format: 1,
    id: randomUUID(),
    node: catalog.node,
    commit: catalog.commit,
    mode: noop ? "noop" : "apply",
    status: runStatus(summary, error),
    started_at: startedAt.toISOString(),
    duration_ms: Math.round(performance.now() - t0),
    catalog_source: options.catalogSource ?? "local",
    catalog_age_s: options.catalogAgeS ?? 0,
    summary,
    ...(error ? { error } : {}),
    resources: list,
  };
}

function describe(changes: readonly Change[]): string {
  return changes.map((c) => c.property).join(", ");
}
