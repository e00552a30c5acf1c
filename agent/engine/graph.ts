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
  // Arrays, not a Set per resource: a resource has a handful of edges at most, and a run of
  // 10,000 resources should not make 10,000 Sets to throw away.
  const upstream = new Map<string, string[]>();
  const add = (to: string, from: string) => {
    const i = index.get(to);
    const j = index.get(from);
    // An edge to an unknown id, or against the order, cannot gate anything: the compiler rejects
    // the first and orders the second, so this only guards against a hand-made catalog.
    if (i === undefined || j === undefined || j >= i) return;
    const list = upstream.get(to);
    if (!list) upstream.set(to, [from]);
    else if (!list.includes(from)) list.push(from);
  };
  for (const r of resources) {
    for (const dep of r.require) add(r.id, dep);
    for (const target of r.notify) add(target, r.id);
  }
  for (const list of upstream.values())
    if (list.length > 1) list.sort((a, b) => index.get(a)! - index.get(b)!);
  return { index, upstream };
}
