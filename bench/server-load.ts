/**
 * The load process of bench/server.ts (run as its own process so that it does not share an event
 * loop with the server): a closed loop over `connections` keep-alive connections, each sending its
 * next request as soon as the previous reply is read. Counts only requests that start after the
 * warm-up and finish inside the measured window; prints one JSON line.
 *
 *   node --import tsx bench/server-load.ts SPEC.json
 *
 * SPEC: { url, mode: "catalog" | "catalog-304" | "reports", connections, warmupS, durationS,
 *         nodes: [{ node, credential }], facts, resources }
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Client } from "undici";

export interface LoadSpec {
  url: string;
  mode: "catalog" | "catalog-304" | "reports";
  connections: number;
  warmupS: number;
  durationS: number;
  nodes: { node: string; credential: string }[];
  facts: Record<string, unknown>;
  /** Resources per report. */
  resources: number;
}

export interface LoadResult {
  mode: string;
  /** Requests answered in the measured window. */
  requests: number;
  /** Requests answered in all, warm-up included. */
  total: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
  errors: number;
  firstError?: string;
  clientCpuS: number;
}

const reportDurationMs = 120;

/** A report body as an agent sends it, with `__ID__` and `__AT__` left to fill per request. */
function reportTemplate(node: string, count: number): string {
  const resources = Array.from({ length: count }, (_, i) => {
    const drifted = i % 10 === 0;
    return {
      id: `file:/etc/tend-${i}`,
      type: "file",
      status: drifted ? "changed" : "unchanged",
      drifted,
      changes: drifted ? [{ property: "content", from: "old", to: "new" }] : [],
      diff: drifted ? "--- a\n+++ b\n-old\n+new\n" : null,
      error: null,
      duration_ms: 1.5,
    };
  });
  const drifted = resources.filter((r) => r.drifted).length;
  return JSON.stringify({
    format: 1,
    id: "__ID__",
    node,
    commit: null,
    mode: "apply",
    status: "changed",
    started_at: "__AT__",
    duration_ms: reportDurationMs,
    catalog_source: "server",
    catalog_age_s: 0,
    summary: { total: count, changed: drifted, drifted, failed: 0, skipped: 0, unchanged: count - drifted },
    resources,
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const measureFrom = start + spec.warmupS * 1000;
  const end = measureFrom + spec.durationS * 1000;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let total = 0;
  let firstError: string | undefined;
  const factsBody = JSON.stringify({ facts: spec.facts });

  const connection = async (k: number) => {
    const who = spec.nodes[k % spec.nodes.length];
    if (!who) throw new Error("no nodes to load with");
    const client = new Client(spec.url, { pipelining: 1, keepAliveTimeout: 60_000 });
    const auth = `Bearer ${who.credential}`;
    const template = spec.mode === "reports" ? reportTemplate(who.node, spec.resources) : "";
    // Each node's runs follow one another, as one agent's do (its run lock): run k starts
    // k × (duration + 1 ms) after a start an hour ago, so no two windows of a node overlap — the
    // server reads overlapping runs as two machines sharing a credential (TRUST I1) and alerts.
    // (Connections k and k + nodes share a node; give them disjoint hours.)
    let runAt = Date.now() - 3_600_000 * (1 + Math.floor(k / spec.nodes.length));
    let etag: string | undefined;
    try {
      while (performance.now() < end) {
        const headers: Record<string, string> = { authorization: auth, "content-type": "application/json" };
        let path = "/api/v1/catalog";
        let body = factsBody;
        if (spec.mode === "reports") {
          path = "/api/v1/reports";
          body = template.replace("__ID__", randomUUID()).replace("__AT__", new Date(runAt).toISOString());
          runAt += reportDurationMs + 1;
        } else if (spec.mode === "catalog-304" && etag) {
          headers["if-none-match"] = etag;
        }
        const t0 = performance.now();
        try {
          const res = await client.request({ path, method: "POST", headers, body });
          await res.body.dump({ limit: Number.POSITIVE_INFINITY });
          const t1 = performance.now();
          total++;
          if (spec.mode === "catalog-304" && typeof res.headers.etag === "string") etag = res.headers.etag;
          if (t0 >= measureFrom && t1 <= end) {
            latencies.push(t1 - t0);
            statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          }
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    } finally {
      await client.close().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, (_, k) => connection(k)));
  const sorted = Float64Array.from(latencies).sort();
  const cpu = process.cpuUsage(cpu0);
  return {
    mode: spec.mode,
    requests: sorted.length,
    total,
    rps: sorted.length / spec.durationS,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    statuses,
    errors,
    ...(firstError ? { firstError } : {}),
    clientCpuS: (cpu.user + cpu.system) / 1e6,
  };
}

const specFile = process.argv[2];
if (specFile && import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const spec = JSON.parse(readFileSync(specFile, "utf8")) as LoadSpec;
  process.stdout.write(`${JSON.stringify(await runLoad(spec))}\n`);
}
