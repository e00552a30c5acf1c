/**
 * What the parts of one engine run share (order.ts, step.ts, notify.ts, record.ts): the catalog
 * and its edges, the outcomes so far, one prefetch per kind, the stores, and the budget of the
 * resource in progress, which stopping the run fires.
 */
import type { Catalog, CatalogResource, Json, ResourceReport, ResourceType } from "../../core/types.js";
import { errorText } from "../report.js";
import type { ContentFile, Kind, KindContext } from "../resources/kind.js";
import type { Enforced } from "../store/enforced-digests.js";
import { type Budget, budget } from "./budget.js";
import { buildGraph } from "./graph.js";
import type { EngineOptions, PendingNotifications } from "./options.js";

const DEFAULT_TIMEOUT_MS = 15 * 60_000;

export class RunState {
  readonly noop: boolean;
  /** The resources this run walks: the whole catalog, or a targeted run's part of it. */
  readonly resources: CatalogResource[];
  /** Position of each id in the catalog. */
  readonly index: Map<string, number>;
  /** id → the ids it depends on that come before it (see graph.ts). */
  readonly upstream: Map<string, string[]>;
  /** The outcome of each resource walked so far. */
  readonly reports = new Map<string, ResourceReport>();
  readonly prefetches = new Map<ResourceType, Promise<unknown>>();
  /** Targets notified by a resource that runs after them: delivered once the walk is over. */
  readonly late: string[] = [];
  readonly baseTimeout: number;
  private readonly log: (message: string) => void;
  private readonly content: (sha: string) => Promise<Buffer>;
  private readonly contentFile: (sha: string) => Promise<ContentFile | null>;
  /** One function for the run, not one per resource's context (the no-op path makes thousands). */
  private readonly contentSize = (sha: string): number | undefined => this.catalog.files[sha]?.size;
  /** `ctx.run`: one scratch object for every kind call of the run. */
  private readonly scratch: Record<string, Json> = {};
  private current: Budget | null = null;
  private readonly stopped = () => this.current?.fire(new Error("the run was stopped"));

  constructor(
    readonly catalog: Catalog,
    readonly options: EngineOptions,
    /** The digests as last enforced, read when the run started. */
    readonly enforced: Enforced,
    readonly journal: PendingNotifications,
  ) {
    this.noop = options.noop ?? false;
    this.resources = options.only ? targeted(catalog.resources, options.only) : catalog.resources;
    ({ index: this.index, upstream: this.upstream } = buildGraph(this.resources));
    this.baseTimeout = options.resourceTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.log = options.log ?? (() => {});
    this.content = contentOf(catalog, options.fetchContent);
    const fetchFile = options.fetchContentFile;
    this.contentFile = async (sha) => {
      const f = catalog.files[sha];
      if (f?.text !== undefined || f?.base64 !== undefined || !fetchFile) return null;
      return fetchFile(sha);
    };
  }

  /** One listener for the whole run, not one per resource. */
  watchStop(): void {
    this.options.signal?.addEventListener("abort", this.stopped, { once: true });
  }

  unwatchStop(): void {
    this.options.signal?.removeEventListener("abort", this.stopped);
  }

  /** The budget of `res`, now the resource in progress. */
  begin(res: CatalogResource): Budget {
    this.current = budget(timeoutFor(res, this.baseTimeout));
    if (this.options.signal?.aborted) this.stopped();
    return this.current;
  }

  context(b: Budget, prefetched: unknown): KindContext {
    return {
      facts: this.options.facts,
      noop: this.noop,
      get signal() {
        return b.signal;
      },
      stateDir: this.options.stateDir,
      content: this.content,
      contentFile: this.contentFile,
      contentSize: this.contentSize,
      prefetched,
      run: this.scratch,
      log: this.log,
    };
  }

  /** The kind's prefetch, made once per run, when its first resource is reached. */
  prefetch(kind: Kind, b: Budget): Promise<unknown> {
    let p = this.prefetches.get(kind.type);
    if (!p) {
      // The whole ordered catalog: a kind takes its own type from it, and may need the order
      // around its resources (the package kind batches installs of neighbouring packages).
      p = kind.prefetch
        ? b.run(() => kind.prefetch!(this.resources, this.context(b, undefined)))
        : Promise.resolve(undefined);
      p.catch(() => {}); // each resource of the kind reports the failure when it awaits it
      this.prefetches.set(kind.type, p);
    }
    return p.catch((err) => {
      throw new Error(`reading the ${kind.type} resources failed: ${errorText(err)}`);
    });
  }
}

/**
 * The part of a catalog a targeted run walks: the ids asked for and, transitively, what they
 * notify, so a repaired file still restarts its service. What they require is not added: it was in
 * sync when they were last converged, and if it drifted too it has its own event.
 */
export function targeted(all: readonly CatalogResource[], only: ReadonlySet<string>): CatalogResource[] {
  const byId = new Map(all.map((r) => [r.id, r]));
  const wanted = new Set<string>();
  const todo = [...only];
  for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
    const r = byId.get(id);
    if (!r || wanted.has(id)) continue;
    wanted.add(id);
    todo.push(...r.notify);
  }
  return all.filter((r) => wanted.has(r.id));
}

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
