/** What `runCatalog` is given: the kinds, the box's facts, and the stores a run reads and updates. */
import type {
  CatalogCheck,
  CatalogResource,
  CheckReport,
  Facts,
  Report,
  ResourceReport,
  ResourceType,
} from "../../core/types.js";
import type { ContentFile, Kind } from "../resources/kind.js";
import type { Enforced } from "../store/enforced-digests.js";

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
  /** Called as each health check's outcome is settled, after every resource's. */
  onCheck?: (report: CheckReport, check: CatalogCheck) => void;
  catalogSource?: Report["catalog_source"];
  catalogAgeS?: number;
  /**
   * Content the catalog does not carry inline, by sha256 (above the server's threshold; every file of
   * a catalog from the compile cache); must check the hash. Called only when a kind needs the bytes.
   */
  fetchContent?: (sha: string) => Promise<Buffer>;
  /**
   * The same content as a file on disk, for kinds that copy it in chunks (KindContext.contentFile):
   * a large file is then never held in memory. Unchecked: the copier checks the hash of what it copied.
   * Null: no such file (a small content derived again), `fetchContent` gives the bytes.
   */
  fetchContentFile?: (sha: string) => Promise<ContentFile | null>;
  /** Where drift versus deploy is remembered; default `state.json` in stateDir. */
  enforced?: EnforcedDigests;
  /**
   * The pending notifications, already read; default `notify.journal` in stateDir, read-only in
   * noop. The engine compacts it at the end of an apply run and closes it after a plan.
   */
  journal?: PendingNotifications;
  /**
   * A targeted run (watch mode): converge only these ids and, transitively, the resources they
   * notify, in catalog order; the report lists only those. The rest keep their recorded state
   * (enforced digests, pending notifications) untouched. Unset: the whole catalog.
   */
  only?: ReadonlySet<string>;
  /** What started the run, carried in the report (`trigger`). */
  trigger?: Report["trigger"];
}

/** The digest of each resource's desired state as last enforced (agent/store/enforced-digests.ts). */
export interface EnforcedDigests {
  /** Read once, when the run starts. */
  load(): Promise<Enforced>;
  /** Called at the end of an apply run, and only when the digests changed. */
  save(enforced: Enforced): Promise<void>;
}

/** The notify journal (agent/store/notify-journal.ts): what survives a kill between change and refresh. */
export interface PendingNotifications {
  /** Target id → the ids that notified it, in the order they did. */
  readonly pending: ReadonlyMap<string, readonly string[]>;
  /** Durably record that each of `targets` is owed a refresh from `from`, before the change starts. */
  add(targets: readonly string[], from: string): Promise<void>;
  /** Durably record that `target`'s refresh was delivered. */
  done(target: string): Promise<void>;
  /** End of an apply run: keep exactly what is still pending for resources of the catalog. */
  compact(knownIds: ReadonlySet<string>): Promise<void>;
  /** End of a plan: release without writing. */
  close(): Promise<void>;
}
