/**
 * The shared harness every resource kind runs through (STYLE.md): given state → check (expect the
 * listed changes, in noop, writing nothing) → apply → check is empty → a second noop check is
 * empty and writes nothing (mtimes of the watched paths unchanged).
 */
import { createHash } from "node:crypto";
import { lstatSync } from "node:fs";
import type { Test } from "tap";
import { type CheckResult, type Kind, type KindContext, markChanging } from "../../agent/resources/kind.js";
import type { CatalogResource, Change, Json, ResourceType } from "../../core/types.js";

type Tap = Test;

/** Catalog file contents by sha256, as ctx.content serves them. */
export class Contents {
  readonly map = new Map<string, Buffer>();
  add(data: string | Buffer): string {
    const b = typeof data === "string" ? Buffer.from(data) : data;
    const sha = createHash("sha256").update(b).digest("hex");
    this.map.set(sha, b);
    return sha;
  }
}

export function resource(type: ResourceType, name: string, params: Record<string, Json>): CatalogResource {
  return {
    id: `${type}:${name}`,
    type,
    name,
    params,
    require: [],
    notify: [],
    source: "test/recipe.yaml:1",
    digest: "0".repeat(64),
  };
}

export interface ContextOptions {
  stateDir: string;
  noop?: boolean;
  contents?: Contents;
  run?: Record<string, Json>;
  prefetched?: unknown;
  signal?: AbortSignal;
  logs?: string[];
}

export function context(o: ContextOptions): KindContext {
  return {
    facts: {
      hostname: "test",
      fqdn: "test",
      os: { id: "debian", version_id: "12", family: "debian" },
      arch: "x64",
      kernel: "linux",
      cpus: 2,
      memory_mb: 1024,
      ipv4: [],
    },
    noop: o.noop ?? false,
    signal: o.signal ?? new AbortController().signal,
    stateDir: o.stateDir,
    async content(sha) {
      const b = o.contents?.map.get(sha);
      if (!b) throw new Error(`no content ${sha}`);
      return b;
    },
    prefetched: o.prefetched,
    run: o.run ?? {},
    log: (m) => o.logs?.push(m),
  };
}

export interface KindCase {
  name: string;
  /** Set up the live state the case starts from. */
  given?(): unknown | Promise<unknown>;
  resource: CatalogResource;
  /** The changes the first check must report (matched as subsets, in order). */
  expect: Array<Partial<Change>>;
  /** A pattern the first check's diff must match. */
  diff?: RegExp | string;
  /** Paths whose mtime (and existence) a noop check must not change. */
  watch?: string[];
  /** Extra assertions on the converged state. */
  after?(t: Tap): unknown | Promise<unknown>;
}

function snapshot(paths: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of paths) {
    const st = lstatSync(p, { throwIfNoEntry: false });
    out[p] = st ? `${st.mtimeMs}/${st.ctimeMs}/${st.size}` : "absent";
  }
  return out;
}

async function noopCheck(
  t: Tap,
  kind: Kind,
  c: KindCase,
  base: ContextOptions,
  run: Record<string, Json>,
): Promise<CheckResult> {
  const watch = [...(c.watch ?? []), base.stateDir];
  const before = snapshot(watch);
  const prefetched = kind.prefetch
    ? await kind.prefetch([c.resource], context({ ...base, run, noop: true }))
    : undefined;
  const res = await kind.check(c.resource, context({ ...base, run, noop: true, prefetched }));
  t.same(snapshot(watch), before, "a noop check writes nothing");
  return res;
}

/** Run one case through check → apply → check → noop check. */
export async function runCase(t: Tap, kind: Kind, c: KindCase, base: ContextOptions): Promise<void> {
  await c.given?.();
  const run: Record<string, Json> = { ...base.run };
  const first = await noopCheck(t, kind, c, base, run);
  t.match(first.changes, c.expect, "check reports the expected changes");
  t.equal(first.changes.length, c.expect.length, "and only those");
  if (c.diff !== undefined) t.match(first.diff ?? "", c.diff, "with the expected diff");
  if (first.changes.length > 0) {
    const prefetched = kind.prefetch
      ? await kind.prefetch([c.resource], context({ ...base, run }))
      : undefined;
    const ctx = context({ ...base, run, prefetched });
    // As the engine does: a prefetch read is trusted only while nothing in the run changed since.
    markChanging(run);
    await kind.apply(c.resource, first.changes, ctx);
    const again = await kind.check(c.resource, ctx);
    t.same(again.changes, [], "check is empty right after apply");
  }
  const second = await noopCheck(t, kind, c, base, { ...base.run });
  t.same(second.changes, [], "a second run finds nothing to change");
  await c.after?.(t);
}

/** One subtest per case, one after the other (cases may share live state, e.g. apt). */
export async function runCases(
  t: Tap,
  kind: Kind,
  cases: KindCase[],
  base: () => ContextOptions,
): Promise<void> {
  for (const c of cases) await t.test(c.name, async (t: Tap) => runCase(t, kind, c, base()));
}
