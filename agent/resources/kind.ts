/**
 * The resource-kind contract. The engine (agent/engine/) knows no kind; each kind is one module
 * in this folder exporting a `Kind`: its spec (attributes, normalisation and automatic edges, as
 * data: core/kind-spec.ts) and its behaviour. A kind reads live state in `check` (pure reads),
 * changes it in `apply`, and may batch its reads in `prefetch` and react to notifications in
 * `refresh`. Also here: the schema pieces kinds share (ensure, owner/group/mode, a path name).
 */
import type { KindSpec, Schema } from "../../core/kind-spec.js";
import type { CatalogResource, Change, Facts, Json, ResourceType } from "../../core/types.js";

export interface CheckResult {
  /** Property changes needed: empty means in sync. */
  changes: Change[];
  /** A unified diff for content changes (file kind), else null/undefined. */
  diff?: string | null;
}

export interface ApplyResult {
  /** Captured command output (exec), truncated by the kind. */
  output?: string | null;
}

/** A catalog file's bytes on disk: `size` bytes at `path`, in tend's private state (or the recipe folder). */
export interface ContentFile {
  path: string;
  size: number;
}

/** Per-run services the engine hands to every kind. No module-level state in kinds. */
export interface KindContext {
  facts: Facts;
  /** True in noop/plan mode: `check` only; nothing may be written. */
  noop: boolean;
  /** Aborted when the resource's time budget runs out or the run is being stopped. */
  signal: AbortSignal;
  /** Where tend keeps state (backups, journals): default /var/lib/tend. */
  stateDir: string;
  /** The content of a catalog file by sha256 (inline in the catalog, or fetched and hash-checked). */
  content(sha256: string): Promise<Buffer>;
  /**
   * Content the catalog does not carry inline, as a file on disk to copy from in chunks (a large
   * file is never held whole in memory); null when it is inline (use `content`). The file is not
   * hash-checked here: whoever copies from it checks the sha256 of what it copied before using it
   * (agent/sys/atomic-write.ts does).
   */
  contentFile?(sha256: string): Promise<ContentFile | null>;
  /** The size the catalog lists for a file, when it lists it (a catalog from the compile cache does not). */
  contentSize?(sha256: string): number | undefined;
  /** Whatever this kind's `prefetch` returned for this run (undefined when it has none). */
  prefetched: unknown;
  /** Per-run scratch shared between kinds, e.g. `{ daemonReloadNeeded: true }` after a unit file changed. */
  run: Record<string, Json>;
  log(message: string): void;
}

/** `ctx.run` key: how many applies and refreshes this run has started (the engine counts them). */
const CHANGES_STARTED = "engine.changes_started";

/** Called by the engine before each apply and refresh. */
export function markChanging(run: Record<string, Json>): void {
  const n = run[CHANGES_STARTED];
  run[CHANGES_STARTED] = (typeof n === "number" ? n : 0) + 1;
}

/**
 * How many applies and refreshes this run has started: state a kind's prefetch read is still the
 * box's while this has not moved since (nothing in the run has changed anything in between).
 */
export function changesStarted(run: Record<string, Json>): number {
  const n = run[CHANGES_STARTED];
  return typeof n === "number" ? n : 0;
}

/**
 * What the agent's watch mode (agent/watch/) watches for one resource, so that a change behind
 * tend's back is repaired at once: paths (a file or directory: its parent directory is watched for
 * the name, and a directory also for what it holds), systemd units (their ActiveState), Debian
 * packages (dpkg's status file). Each list may be empty or left out.
 */
export interface WatchSpec {
  paths?: string[];
  units?: string[];
  packages?: string[];
}

export interface Kind {
  type: ResourceType;
  /** What the kind accepts in a recipe and how it is normalised and ordered (data; `npm run gen` reads it). */
  spec: KindSpec;
  prefetch?(resources: CatalogResource[], ctx: Omit<KindContext, "prefetched">): Promise<unknown>;
  check(resource: CatalogResource, ctx: KindContext): Promise<CheckResult>;
  apply(resource: CatalogResource, changes: Change[], ctx: KindContext): Promise<ApplyResult | undefined>;
  /**
   * Called once at the end of an apply run (not a plan) when `prefetch` ran, with what it returned:
   * finish work batched over the run, e.g. the file kind fsyncs each directory it renamed into once
   * here instead of once per file. The engine records the run's state only after it.
   */
  settle?(prefetched: unknown, ctx: Omit<KindContext, "prefetched">): Promise<void>;
  /** Called when a resource this one listens to changed (service restart, refresh_only exec). */
  refresh?(resource: CatalogResource, ctx: KindContext): Promise<ApplyResult | undefined>;
  /**
   * What to watch on the box for this resource in watch mode; a kind without it (exec, user,
   * group) is not watched, and only scheduled runs repair it. Pure: reads nothing on the box.
   */
  watch?(resource: CatalogResource): WatchSpec;
}

/** `ensure` with these values; the first is the default unless `default` says otherwise (null: none). */
export function ensure(
  values: readonly string[],
  description: string,
  dflt: string | null = values[0]!,
): Schema {
  return {
    title: "Ensure",
    description,
    enum: values,
    ...(dflt === null ? {} : { default: dflt }),
  };
}

/** `present` (the default) or `absent`. */
export const presence = ensure(
  ["present", "absent"],
  "`present` (created when missing) or `absent` (deleted).",
);

/** A login or group name, as useradd and groupadd accept it. */
export function accountName(title: string, description: string, example: string): Schema {
  return {
    title,
    description,
    type: "string",
    pattern: "^[a-z_][a-z0-9_-]*\\$?$",
    "x-hint": `a ${title.toLowerCase()} such as "${example}"`,
  };
}

/** A user or a group, by name or numeric id. */
export function principal(title: string, description: string): Schema {
  return { title, description, type: ["string", "integer"] };
}

/** The owner and group of a file-like resource. */
export const ownership = {
  owner: principal("Owner", "The owning user, by name or uid. Unset: left as found (root for a new file)."),
  group: principal("Group", "The owning group, by name or gid. Unset: left as found (root for a new file)."),
} as const;

/**
 * Permission bits as a quoted octal string (schemas' `$defs/mode`, whose hint explains the quotes);
 * the compiler pads it to four digits ("644" → "0644").
 */
export function mode(description: string): Schema {
  return {
    $ref: "#/$defs/mode",
    title: "Mode",
    description,
  };
}

/** An absolute path as a resource's name. */
export function pathName(description: string): Schema {
  return {
    title: "Path",
    description,
    type: "string",
    pattern: "^/",
    "x-hint": 'an absolute path such as "/etc/motd"',
  };
}
