/**
 * Driving rollouts through a test server's real routes: nodes that pull their catalog (which says
 * the commit it was compiled from) and post reports on a commit, healthy or failing a health check,
 * as an agent would: pull first, then report what was pulled (the server believes a report's commit
 * only when it served it to that node, issue 15); the signals the rollout sent, read back from the
 * signals table.
 */
import type { Report } from "../../core/types.js";
import { bearer, type TestServer } from "./server-app.js";
import { facts } from "./server-git.js";
import { makeReport } from "./server-report.js";

export interface RolloutFleet {
  creds: Record<string, string>;
  /** The commit the node's catalog is compiled from now. */
  served(node: string): Promise<string>;
  /**
   * Pulls the node's catalog (a plan's, with `noop`), which must be compiled from `commit`, then
   * posts a report on it: healthy, or failing its health check. `unserved` skips the pull: a node
   * claiming a commit it was never served.
   */
  report(
    node: string,
    commit: string,
    o?: { fail?: boolean; changed?: boolean; noop?: boolean; unserved?: boolean },
  ): Promise<void>;
  /** Every node pulls and reports (healthy) on what it is served. */
  converge(nodes?: string[]): Promise<void>;
}

export async function rolloutFleet(s: TestServer, names: string[]): Promise<RolloutFleet> {
  const creds: Record<string, string> = {};
  for (const n of names) creds[n] = await s.enroll(n);
  const served = async (node: string, noop = false) => {
    const res = await s.app.inject({
      method: "POST",
      url: "/api/v1/catalog",
      headers: { ...bearer(creds[node] ?? ""), ...(noop ? { "x-tend-run": "noop" } : {}) },
      payload: { facts: facts(node) },
    });
    if (res.statusCode !== 200) throw new Error(`catalog ${node}: ${res.statusCode} ${res.body}`);
    const commit = res.headers["x-tend-commit"];
    if (commit !== res.json().catalog.commit) throw new Error("the header and the catalog disagree");
    return String(commit);
  };
  const post = async (node: string, commit: string, o: Parameters<RolloutFleet["report"]>[2] = {}) => {
    const r: Report = makeReport(node, commit, o.changed ? { drifted: ["file:/etc/motd"] } : {});
    if (o.noop) r.mode = "noop";
    if (o.fail) {
      r.status = "failed";
      r.summary = { ...r.summary, checks_total: 1, checks_failed: 1, checks_skipped: 0 };
      r.checks = [
        {
          id: "http://127.0.0.1:8080/health",
          type: "http",
          status: "failed",
          attempts: 3,
          duration_ms: 12,
          reason: "HTTP 500 from /health",
        },
      ] as Report["checks"];
    }
    const res = await s.app.inject({
      method: "POST",
      url: "/api/v1/reports",
      headers: bearer(creds[node] ?? ""),
      payload: r,
    });
    if (res.statusCode !== 201) throw new Error(`report ${node}: ${res.statusCode} ${res.body}`);
  };
  const report: RolloutFleet["report"] = async (node, commit, o = {}) => {
    if (!o.unserved) {
      const pulled = await served(node, o.noop);
      if (pulled !== commit)
        throw new Error(`${node} is served ${pulled.slice(0, 12)}: it cannot run ${commit.slice(0, 12)}`);
    }
    await post(node, commit, o);
  };
  return {
    creds,
    served: (node) => served(node),
    report,
    async converge(nodes = names) {
      for (const n of nodes) await post(n, await served(n));
    },
  };
}

/** The `run`/`noop` signals sent since `after`, as node lists. */
export async function signalsSince(s: TestServer, after = 0): Promise<{ kind: string; nodes: string[] }[]> {
  const rows = await s.storage.signalsAfter(after, 0);
  return rows.map((r) => ({ kind: r.kind, nodes: r.nodes ?? [r.glob ?? ""] }));
}
