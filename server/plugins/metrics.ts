/**
 * Prometheus text at /metrics: requests by route and status, catalog compile time, reports by
 * status, and — read from storage at scrape time — nodes by last status and drifted resources.
 */
import type { FastifyInstance } from "fastify";
import type { Storage } from "../storage/types.js";

const buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly reports = new Map<string, number>();
  private readonly duplicates = new Map<string, number>();
  private readonly alertDeliveries = new Map<string, number>();
  private readonly compileBuckets = buckets.map(() => 0);
  private compileSum = 0;
  private compileCount = 0;
  catalogCacheHits = 0;
  /** Reports naming a commit their node was never served (stored as unverified). */
  unverifiedCommit = 0;
  /** Push streams held by this server (set by app.ts). */
  pushStreams: () => number = () => 0;
  private readonly signals = new Map<string, number>();

  signal(kind: string): void {
    this.signals.set(kind, (this.signals.get(kind) ?? 0) + 1);
  }

  request(route: string, method: string, status: number): void {
    const key = `route="${route}",method="${method}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  report(status: string): void {
    this.reports.set(status, (this.reports.get(status) ?? 0) + 1);
  }

  /** Two overlapping runs of one node: two machines share its credential (TRUST I1). */
  duplicateIdentity(node: string): void {
    this.duplicates.set(node, (this.duplicates.get(node) ?? 0) + 1);
  }

  /** Alert events by sink and outcome: sent, retry (a failed attempt), failed (for good), coalesced (into a storm). */
  alertDelivery(sink: string, outcome: string, n: number): void {
    const key = `sink="${sink}",outcome="${outcome}"`;
    this.alertDeliveries.set(key, (this.alertDeliveries.get(key) ?? 0) + n);
  }

  compiled(seconds: number): void {
    this.compileSum += seconds;
    this.compileCount++;
    buckets.forEach((b, i) => {
      if (seconds <= b) this.compileBuckets[i] = (this.compileBuckets[i] ?? 0) + 1;
    });
  }

  async render(storage: Storage): Promise<string> {
    const out: string[] = [];
    out.push("# HELP tend_http_requests_total HTTP requests by route, method and status.");
    out.push("# TYPE tend_http_requests_total counter");
    for (const [k, v] of this.requests) out.push(`tend_http_requests_total{${k}} ${v}`);
    out.push("# HELP tend_catalog_compile_seconds Time to compile one catalog.");
    out.push("# TYPE tend_catalog_compile_seconds histogram");
    buckets.forEach((b, i) => {
      out.push(`tend_catalog_compile_seconds_bucket{le="${b}"} ${this.compileBuckets[i]}`);
    });
    out.push(`tend_catalog_compile_seconds_bucket{le="+Inf"} ${this.compileCount}`);
    out.push(`tend_catalog_compile_seconds_sum ${this.compileSum}`);
    out.push(`tend_catalog_compile_seconds_count ${this.compileCount}`);
    out.push("# HELP tend_catalog_cache_hits_total Catalog requests answered from the compile cache.");
    out.push("# TYPE tend_catalog_cache_hits_total counter");
    out.push(`tend_catalog_cache_hits_total ${this.catalogCacheHits}`);
    out.push(
      "# HELP tend_reports_unverified_commit_total Reports naming a commit their node was never served.",
    );
    out.push("# TYPE tend_reports_unverified_commit_total counter");
    out.push(`tend_reports_unverified_commit_total ${this.unverifiedCommit}`);
    out.push("# HELP tend_reports_total Reports accepted, by run status.");
    out.push("# TYPE tend_reports_total counter");
    for (const [k, v] of this.reports) out.push(`tend_reports_total{status="${k}"} ${v}`);
    out.push(
      "# HELP tend_duplicate_identity_total Overlapping runs of one node: two machines use its credential.",
    );
    out.push("# TYPE tend_duplicate_identity_total counter");
    for (const [k, v] of this.duplicates) out.push(`tend_duplicate_identity_total{node="${k}"} ${v}`);
    out.push(
      "# HELP tend_alert_deliveries_total Alert events by sink and outcome (sent, retry, failed, coalesced).",
    );
    out.push("# TYPE tend_alert_deliveries_total counter");
    for (const [k, v] of this.alertDeliveries) out.push(`tend_alert_deliveries_total{${k}} ${v}`);
    out.push("# HELP tend_push_streams Agents' push streams this server holds.");
    out.push("# TYPE tend_push_streams gauge");
    out.push(`tend_push_streams ${this.pushStreams()}`);
    out.push("# HELP tend_push_signals_total Push signals sent from this server, by kind.");
    out.push("# TYPE tend_push_signals_total counter");
    for (const [k, v] of this.signals) out.push(`tend_push_signals_total{signal="${k}"} ${v}`);
    // /metrics needs no credential, so what it reads from storage is computed at most every
    // STORAGE_GAUGES_MS, however often it is scraped (TRUST E4: O(1) work before authentication).
    const now = Date.now();
    if (!this.storageGauges || now - this.storageGauges.at > STORAGE_GAUGES_MS) {
      this.storageGauges = {
        at: now,
        nodes: await storage.nodesByStatus(),
        drifted: (await storage.drift()).length,
        outbox: await storage.alerts.outboxDepth(),
        conditions: await storage.alerts.conditionCounts(),
      };
    }
    out.push("# HELP tend_nodes Nodes by the status of their latest report.");
    out.push("# TYPE tend_nodes gauge");
    for (const [k, v] of Object.entries(this.storageGauges.nodes)) out.push(`tend_nodes{status="${k}"} ${v}`);
    out.push("# HELP tend_drifted_resources Resources drifted in nodes' latest reports.");
    out.push("# TYPE tend_drifted_resources gauge");
    out.push(`tend_drifted_resources ${this.storageGauges.drifted}`);
    out.push("# HELP tend_alert_outbox_pending Alert events waiting for delivery, by sink.");
    out.push("# TYPE tend_alert_outbox_pending gauge");
    for (const [k, v] of Object.entries(this.storageGauges.outbox))
      out.push(`tend_alert_outbox_pending{sink="${k}"} ${v}`);
    out.push("# HELP tend_alert_conditions_open Open alert conditions (including those clearing), by kind.");
    out.push("# TYPE tend_alert_conditions_open gauge");
    for (const [k, v] of Object.entries(this.storageGauges.conditions))
      out.push(`tend_alert_conditions_open{kind="${k}"} ${v}`);
    return `${out.join("\n")}\n`;
  }

  private storageGauges:
    | {
        at: number;
        nodes: Record<string, number>;
        drifted: number;
        outbox: Record<string, number>;
        conditions: Record<string, number>;
      }
    | undefined;
}

const STORAGE_GAUGES_MS = 15_000;

export function metricsPlugin(app: FastifyInstance, metrics: Metrics): void {
  app.addHook("onResponse", async (req, reply) => {
    metrics.request(req.routeOptions.url ?? "unmatched", req.method, reply.statusCode);
  });
}
