/**
 * The fleet search's meaning, written the slow, obvious way in JS over whole nodes (facts object,
 * latest report), independent of server/search/sql.ts and node_facts: the correctness tests
 * compare the databases' answers to it on generated fleets. Plus a seeded random fleet and random
 * searches.
 */
import { randomUUID } from "node:crypto";
import type { Facts, Json, Report, ResourceReport } from "../../core/types.js";
import type { Expr, Literal, ResourceState } from "../../server/search/parse.js";

export interface OracleNode {
  name: string;
  enrolled_at: number;
  facts: Facts | null;
  last: Report | null;
}

export interface OracleContext {
  stale: { iso: string; ms: number };
  live: string | null;
}

const num = (v: Json): number | null =>
  typeof v === "number" ? v : typeof v === "string" && /^-?\d{1,15}(\.\d{1,15})?$/.test(v) ? Number(v) : null;
const litNum = (l: Literal) => (l.quoted ? null : num(l.text));
const globRe = (g: string) =>
  new RegExp(
    `^${[...g].map((c) => (c === "*" ? "[^]*" : c === "?" ? "[^]" : c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("")}$`,
    "u",
  );

/** Every primitive at `path` (lists looked through at any depth). */
function leaves(v: Json | undefined, parts: string[]): Json[] {
  if (v === undefined || v === null) return parts.length === 0 && v === null ? [null] : [];
  if (Array.isArray(v)) return v.flatMap((x) => leaves(x, parts));
  if (parts.length === 0) return typeof v === "object" ? [] : [v];
  if (typeof v !== "object") return [];
  const [head, ...rest] = parts;
  return Object.hasOwn(v, head as string) ? leaves((v as Record<string, Json>)[head as string], rest) : [];
}

const inState = (r: ResourceReport, s: ResourceState) =>
  s === "changed"
    ? r.status === "changed" || r.status === "would-change"
    : s === "drifted"
      ? r.drifted
      : r.status === s;

export function oracle(e: Expr, n: OracleNode, ctx: OracleContext): boolean {
  switch (e.t) {
    case "and":
      return oracle(e.a, n, ctx) && oracle(e.b, n, ctx);
    case "or":
      return oracle(e.a, n, ctx) || oracle(e.b, n, ctx);
    case "not":
      return !oracle(e.a, n, ctx);
    case "flag":
      if (e.flag === "stale")
        return n.last ? n.last.started_at < ctx.stale.iso : n.enrolled_at < ctx.stale.ms;
      if (e.flag === "failing") return n.last?.status === "failed";
      return (n.last?.resources ?? []).some((r) => r.drifted);
    case "resource": {
      const id = `${e.kind}:${e.title}`;
      const re = globRe(id);
      return (n.last?.resources ?? []).some(
        (r) => (e.glob ? re.test(r.id) : r.id === id) && inState(r, e.state),
      );
    }
    case "field": {
      const neg = e.op === "!=" || e.op === "!~";
      let hit: boolean;
      if (e.field === "name")
        hit = e.op.endsWith("~") ? globRe(e.value.text).test(n.name) : n.name === e.value.text;
      else if (e.field === "commit") {
        const c = n.last?.commit ?? null;
        hit =
          e.value.text === "live" && !e.value.quoted
            ? c !== null && c === ctx.live
            : c?.startsWith(e.value.text) === true;
      } else hit = e.value.text === "none" ? n.last === null : n.last?.status === e.value.text;
      return neg ? !hit : hit;
    }
    case "fact": {
      const neg = e.op === "!=" || e.op === "!~";
      const op = e.op === "!=" ? "=" : e.op === "!~" ? "~" : e.op;
      const vals = leaves(n.facts as Json, e.path.split("."));
      const L = litNum(e.value);
      const cmp = <T>(a: T, b: T) =>
        op === "=" ? a === b : op === "<" ? a < b : op === ">" ? a > b : op === "<=" ? a <= b : a >= b;
      const hit = vals.some((v) => {
        if (op === "~") return globRe(e.value.text).test(String(v));
        if (L !== null) {
          const x = num(v);
          return x !== null && cmp(x, L);
        }
        return cmp(String(v), e.value.text);
      });
      return neg ? !hit : hit;
    }
  }
}

/** A small deterministic PRNG (mulberry32), so a failing fleet can be made again from its seed. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  return { next, pick, int: (n: number) => Math.floor(next() * n) };
}

export const commitsPool = ["a1".repeat(20), "b2".repeat(20), "c3".repeat(20)];
const versions = ["11", "12", "13", "", "12.5", "7"];
const resourcesPool = [
  "package:nginx",
  "package:nginx-common",
  "package:libssl3",
  "file:/etc/nginx/nginx.conf",
  "file:/etc/motd",
  "service:nginx",
  "file:/etc/my file.conf",
];
const statuses: ResourceReport["status"][] = [
  "changed",
  "would-change",
  "failed",
  "skipped",
  "unknown",
  "unchanged",
];

/** Facts with strings, numbers, numeric strings, lists and a nested list of objects. */
export function randomFacts(r: ReturnType<typeof rng>, name: string): Facts {
  return {
    hostname: name,
    fqdn: `${name}.example.com`,
    os: { id: r.pick(["debian", "ubuntu", "alpine"]), version_id: r.pick(versions), family: "debian" },
    arch: r.pick(["x86_64", "aarch64"]),
    kernel: r.pick(["6.1.0-18-amd64", "6.12.1", "5.10.0"]),
    cpus: r.pick([1, 2, 4, 16]),
    memory_mb: r.pick([512, 2048, 7936, 65536]),
    ipv4: Array.from({ length: r.int(3) }, () => `10.0.${r.int(3)}.${r.int(4)}`),
    role: r.pick(["web", "db", "cache", "12"]),
    disks: r.int(2) ? [{ name: "sda", size_gb: r.pick([20, 100]) }] : [],
    virtual: r.pick([true, false, null]),
  };
}

export function randomReport(r: ReturnType<typeof rng>, node: string, startedAt: string): Report {
  const resources: ResourceReport[] = resourcesPool
    .filter(() => r.next() < 0.6)
    .map((id) => {
      const status = r.pick(statuses);
      const drifted = status !== "failed" && r.next() < 0.3;
      return {
        id,
        type: id.split(":")[0] as "file",
        status,
        drifted,
        changes: [],
        diff: null,
        error: status === "failed" ? "failed" : null,
        duration_ms: 1,
      };
    });
  const failed = resources.some((x) => x.status === "failed");
  const changed = resources.some((x) => x.status === "changed");
  return {
    format: 1,
    id: randomUUID(),
    node,
    commit: r.next() < 0.1 ? null : r.pick(commitsPool),
    mode: "apply",
    status: failed ? "failed" : changed ? "changed" : "unchanged",
    started_at: startedAt,
    duration_ms: 10,
    catalog_source: "server",
    catalog_age_s: 0,
    summary: { total: resources.length, changed: 0, drifted: 0, failed: 0, skipped: 0, unchanged: 0 },
    resources,
  };
}

/** A random search over the generated vocabulary, `depth` levels of and/or/not. */
export function randomSearch(r: ReturnType<typeof rng>, depth: number): string {
  if (depth > 0 && r.next() < 0.6) {
    const a = randomSearch(r, depth - 1);
    const b = randomSearch(r, depth - 1);
    return r.pick([`(${a}) and (${b})`, `(${a}) or (${b})`, `not (${a})`]);
  }
  const op = () => r.pick(["=", "!=", "<", ">", "<=", ">="]);
  return r.pick([
    () => `os.version_id ${op()} ${r.pick(["12", "'12'", "11", "12.5", "''", "7"])}`,
    () => `os.version_id ~ ${r.pick(["1*", "'?'", "*5"])}`,
    () => `memory_mb ${op()} ${r.pick(["2048", "1000", "'7936'", "abc"])}`,
    () => `role ${op()} ${r.pick(["web", "12", "'12'", "db"])}`,
    () => `ipv4 ${r.pick(["=", "!=", "~", "!~"])} ${r.pick(["10.0.1.2", "10.0.2.*", "10.0.?.0"])}`,
    () => `disks.size_gb ${op()} ${r.pick(["20", "100", "50"])}`,
    () => `disks.name = sda`,
    () => `virtual ${r.pick(["=", "!="])} ${r.pick(["true", "false", "null"])}`,
    () => `kernel ${op()} ${r.pick(["6.1", "'6.12.1'", "5"])}`,
    () =>
      `${r.pick(["package:nginx", "package:nginx*", "file:/etc/*", "service:nginx", "'file:/etc/my file.conf'", "package:?ibssl3"])} ${r.pick(["changed", "failed", "drifted", "skipped", "unknown"])}`,
    () => `commit ${r.pick(["=", "!="])} ${r.pick(["live", "a1a1a1a", "b2b2"])}`,
    () => r.pick(["stale", "failing", "drifted"]),
    () => `name ${r.pick(["=", "!=", "~", "!~"])} ${r.pick(["node-3", "node-1*", "*-?"])}`,
    () => `status ${r.pick(["=", "!="])} ${r.pick(["failed", "changed", "unchanged", "none"])}`,
    () => `nosuch.fact ${r.pick(["=", "!="])} 1`,
  ])();
}
