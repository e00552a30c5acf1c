/**
 * The edges the engine needs from a catalog already in dependency order: for each resource, the
 * earlier resources its outcome depends on (what it requires, and what notifies it).
 */
import type { CatalogResource } from "../../core/types.js";

export interface Graph {
  /** Position of each id in the catalog. */
  index: Map<string, number>;
  /** id → the ids it depends on that come before it, in catalog order. */
  upstream: Map<string, string[]>;
}

export function buildGraph(resources: readonly CatalogResource[]): Graph {
  const index = new Map<string, number>();
  for (const [i, r] of resources.entries()) index.set(r.id, i);
  const upstream = new Map<string, Set<string>>();
  const add = (to: string, from: string) => {
    const i = index.get(to);
    const j = index.get(from);
    // An edge to an unknown id, or against the order, cannot gate anything: the compiler rejects
    // the first and orders the second, so this only guards against a hand-made catalog.
    if (i === undefined || j === undefined || j >= i) return;
    const set = upstream.get(to);
    if (set) set.add(from);
    else upstream.set(to, new Set([from]));
  };
  for (const r of resources) {
    for (const dep of r.require) add(r.id, dep);
    for (const target of r.notify) add(target, r.id);
  }
  const sorted = new Map<string, string[]>();
  for (const [id, set] of upstream)
    sorted.set(
      id,
      [...set].sort((a, b) => index.get(a)! - index.get(b)!),
    );
  return { index, upstream: sorted };
}
