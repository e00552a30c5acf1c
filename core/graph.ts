/**
 * Edges and order. Explicit edges (`require`, and `notify`, which implies order) plus implicit
 * ones: a file after its nearest managed parent directory and its owner and group, a user after
 * its groups, an exec after its user and cwd, a service after its unit file. The order is
 * topological, ties broken by declaration order; a cycle is an error that names it.
 */
import { posix } from "node:path";
import type { Json } from "./types.js";

export interface Node {
  id: string;
  type: string;
  name: string;
  params: Record<string, Json>;
  require: string[];
  notify: string[];
}

/** Implicit edges of `r`, given the set of declared ids. */
export function implicitRequires(r: Node, has: (id: string) => boolean): string[] {
  const out: string[] = [];
  const want = (id: string) => {
    if (id !== `${r.type}:${r.name}` && has(id)) out.push(id);
  };
  const p = r.params;
  switch (r.type) {
    case "file": {
      for (let dir = posix.dirname(r.name); ; dir = posix.dirname(dir)) {
        if (has(`file:${dir}`)) {
          out.push(`file:${dir}`);
          break;
        }
        if (dir === "/") break;
      }
      if (typeof p.owner === "string") want(`user:${p.owner}`);
      if (typeof p.group === "string") want(`group:${p.group}`);
      break;
    }
    case "user":
      if (typeof p.gid === "string") want(`group:${p.gid}`);
      for (const g of (p.groups as string[] | undefined) ?? []) want(`group:${g}`);
      break;
    case "exec":
      if (typeof p.user === "string") want(`user:${p.user}`);
      if (typeof p.cwd === "string") want(`file:${p.cwd}`);
      break;
    case "service": {
      // systemctl takes "nginx" for "nginx.service"; the unit file has the full name.
      const unit = /\.[a-z]+$/.test(r.name) ? r.name : `${r.name}.service`;
      for (const dir of ["/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"])
        want(`file:${dir}/${unit}`);
      break;
    }
  }
  return out;
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
