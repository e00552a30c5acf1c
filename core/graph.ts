/**
 * Edges and order. Explicit edges (`require`, and `notify`, which implies order) plus automatic
 * ones, which each kind declares as data in its spec (core/kind-spec.ts `EdgeSpec`): e.g. a file
 * after its nearest managed parent directory and its owner, a service after its unit file. The order
 * is topological, ties broken by declaration order; a cycle is an error that names it.
 */
import { posix } from "node:path";
import { KIND_RULES } from "./generated/kinds.js";
import type { EdgeSpec, KindRules } from "./kind-spec.js";
import type { Json } from "./types.js";

export interface Node {
  id: string;
  type: string;
  name: string;
  params: Record<string, Json>;
  require: string[];
  notify: string[];
}

const RULES = KIND_RULES as Readonly<Record<string, KindRules>>;

/**
 * The automatic edges of every node: for each, the ids (of other nodes) it must come after, from
 * its own kind's `after` edges first, then from other kinds' `before` edges, in declaration order.
 */
export function implicitEdges(nodes: readonly Node[], has: (id: string) => boolean): string[][] {
  const out: string[][] = nodes.map(() => []);
  let byType: Map<string, number[]> | undefined;
  const ofType = (type: string): number[] => {
    if (!byType) {
      byType = new Map();
      nodes.forEach((n, i) => {
        const list = byType!.get(n.type);
        if (list) list.push(i);
        else byType!.set(n.type, [i]);
      });
    }
    return byType.get(type) ?? [];
  };
  const index = new Map<string, number>();
  const indexOf = (id: string): number | undefined => {
    if (!index.size) for (let i = 0; i < nodes.length; i++) index.set(nodes[i]!.id, i);
    return index.get(id);
  };
  const before: [number, number][] = [];
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    const edges = RULES[n.type]?.edges;
    if (!edges) continue;
    const self = `${n.type}:${n.name}`;
    for (const e of edges) {
      const kind = e.after ?? e.before!;
      const matched =
        e.param === undefined && e.ancestor === undefined && !e.names ? allOf(kind) : named(n, e, kind);
      for (const id of matched) {
        if (id === self) continue;
        if (e.after !== undefined) out[i]!.push(id);
        else {
          const j = indexOf(id);
          if (j !== undefined) before.push([j, i]);
        }
      }
    }
  }
  for (const [j, i] of before) if (!out[j]!.includes(nodes[i]!.id)) out[j]!.push(nodes[i]!.id);
  return out;

  function allOf(kind: string): string[] {
    return ofType(kind).map((j) => nodes[j]!.id);
  }

  function named(n: Node, e: EdgeSpec, kind: string): string[] {
    const found: string[] = [];
    const want = (name: string) => {
      const id = `${kind}:${name}`;
      if (has(id) && !found.includes(id)) found.push(id);
    };
    if (e.param !== undefined) {
      const v = n.params[e.param];
      if (typeof v === "string") want(v);
      else if (Array.isArray(v)) for (const x of v) if (typeof x === "string") want(x);
    }
    if (e.ancestor !== undefined) {
      const path = e.ancestor === "name" ? n.name : n.params[e.ancestor];
      if (typeof path === "string" && path.startsWith("/"))
        for (let dir = posix.dirname(path); ; dir = posix.dirname(dir)) {
          if (has(`${kind}:${dir}`)) {
            found.push(`${kind}:${dir}`);
            break;
          }
          if (dir === "/") break;
        }
    }
    for (const template of e.names ?? []) want(fill(template, n.name));
    return found;
  }
}

/**
 * `{name}`; `{unit}`, the unit a name stands for: the name with ".service" added when it has no
 * unit suffix, or, for a drop-in (`UNIT.d/FILE.conf`), the unit it extends; `{stem}`: that unit
 * without ".service".
 */
function fill(template: string, name: string): string {
  const base = name.replace(/\.d\/[^/]+\.conf$/, "");
  return template
    .replaceAll("{name}", name)
    .replaceAll("{unit}", /\.[a-z]+$/.test(base) ? base : `${base}.service`)
    .replaceAll("{stem}", base.replace(/\.service$/, ""));
}

/**
 * Topological order of `nodes` (already in declaration order) over `edges[i]` = indexes that must
 * come before i. Returns the order, or a cycle as a list of indexes (first repeated at the end).
 */
export function order(count: number, before: number[][]): { order: number[] } | { cycle: number[] } {
  const indegree = new Array<number>(count).fill(0);
  const after: number[][] = Array.from({ length: count }, () => []);
  for (let i = 0; i < count; i++) {
    for (const b of before[i]!) {
      after[b]!.push(i);
      indegree[i]!++;
    }
  }
  const heap = new MinHeap();
  for (let i = 0; i < count; i++) if (indegree[i] === 0) heap.push(i);
  const out: number[] = [];
  while (heap.size) {
    const i = heap.pop();
    out.push(i);
    for (const j of after[i]!) if (--indegree[j]! === 0) heap.push(j);
  }
  if (out.length === count) return { order: out };
  return { cycle: findCycle(count, before, indegree) };
}

function findCycle(count: number, before: number[][], indegree: number[]): number[] {
  // Walk "must come before" edges among the unresolved nodes until one repeats.
  const start = indegree.findIndex((d) => d > 0);
  const seenAt = new Map<number, number>();
  const path: number[] = [];
  let cur = start;
  while (!seenAt.has(cur)) {
    seenAt.set(cur, path.length);
    path.push(cur);
    const next = before[cur]!.find((b) => indegree[b]! > 0);
    if (next === undefined || count === 0) break;
    cur = next;
  }
  const from = seenAt.get(cur) ?? 0;
  const cycle = path.slice(from).reverse();
  cycle.push(cycle[0]!);
  return cycle;
}

class MinHeap {
  private a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= v) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && a[l + 1]! < a[l]! ? l + 1 : l;
        if (a[c]! >= last) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
