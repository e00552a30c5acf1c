/**
 * The data that crosses tend's boundaries: facts, the compiled catalog and the run report.
 * schemas/*.schema.json are the authority; these types mirror them.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Facts about a node, gathered by the agent (agent/facts/). */
export interface Facts {
  hostname: string;
  fqdn: string;
  os: { id: string; version_id: string; family: string; name?: string };
  arch: string;
  kernel: string;
  cpus: number;
  memory_mb: number;
  ipv4: string[];
  [key: string]: Json | undefined;
}

export type ResourceType = "package" | "file" | "service" | "user" | "group" | "exec";

/** One resource of a compiled catalog, normalised with defaults, in dependency order. */
export interface CatalogResource {
  /** `TYPE:NAME`, e.g. `file:/etc/motd`. */
  id: string;
  type: ResourceType;
  name: string;
  /** Kind parameters after normalisation (see schemas/catalog.schema.json, `$defs`). */
  params: Record<string, Json>;
  /** Ids this resource must come after (explicit `require` plus implicit edges). */
  require: string[];
  /** Ids refreshed (service restart, refresh_only exec) when this resource changes. */
  notify: string[];
  /** Where it was declared: `RECIPE/recipe.yaml:LINE`. */
  source: string;
  /** sha256 of the canonical desired state (type, name, params): drift versus deploy. */
  digest: string;
}

/** File content addressed by sha256; `text` for UTF-8, `base64` otherwise, neither when fetched by hash. */
export interface CatalogFile {
  size: number;
  text?: string;
  base64?: string;
}

export interface Catalog {
  format: 1;
  node: string;
  /** The git commit the catalog was compiled from; null for a local (masterless) compile. */
  commit: string | null;
  recipes: string[];
  resources: CatalogResource[];
  files: Record<string, CatalogFile>;
}

export type ResourceStatus = "unchanged" | "changed" | "would-change" | "unknown" | "failed" | "skipped";

/** One property change: what was found and what is wanted. */
export interface Change {
  property: string;
  from: Json;
  to: Json;
}

export interface ResourceReport {
  id: string;
  type: ResourceType;
  status: ResourceStatus;
  drifted: boolean;
  changes: Change[];
  diff: string | null;
  error: string | null;
  output?: string | null;
  duration_ms: number;
}

export interface Report {
  format: 1;
  id: string;
  node: string;
  commit: string | null;
  mode: "apply" | "noop";
  status: "unchanged" | "changed" | "failed" | "stale";
  started_at: string;
  duration_ms: number;
  catalog_source: "server" | "cache" | "local";
  catalog_age_s: number;
  summary: {
    total: number;
    changed: number;
    drifted: number;
    failed: number;
    skipped: number;
    unchanged: number;
    /** noop only: outcomes that depend on an earlier would-change. Older agents leave it out. */
    unknown?: number;
  };
  dropped_reports?: number;
  error?: string | null;
  resources: ResourceReport[];
}
