/**
 * TRUST I1: two machines sharing one node credential (a cloned VM, a copied state_dir). One agent
 * never overlaps its own runs (the run lock in state_dir), so two reports of a node whose run
 * windows overlap — [started_at, started_at + duration] — come from two machines. Clones share the
 * node's name and so its splay: their runs start together, and the first pair of runs shows it.
 *
 * Both reports are stored (each whole, in its own transaction, deterministically); the server then
 * raises a "duplicate identity" alert: a warning in its log, `tend_duplicate_identity_total` in
 * /metrics, and a record in storage that the dashboard shows on the fleet and node pages until an
 * admin re-enrols the node.
 *
 * The windows compared are the last few of each node seen by this server process (a report
 * spooled during an outage may arrive late, out of order): after a restart, or across several
 * servers on one PostgreSQL, the first overlapping pair a server sees itself raises the alert.
 */
import type { Report } from "../core/types.js";

export interface DuplicateIdentity {
  node: string;
  /** The two overlapping reports: the one received earlier, then the new one. */
  reports: [string, string];
  at: number;
}

interface Window {
  id: string;
  start: number;
  end: number;
}

/** Windows kept per node: enough for reports spooled during an outage to arrive out of order. */
const keep = 8;
/** Nodes tracked before the oldest are forgotten (about 100 bytes each). */
const maxNodes = 500_000;

export class DuplicateDetector {
  private readonly windows = new Map<string, Window[]>();

  /** Records the stored report's run window; returns the alert when it overlaps an earlier one. */
  check(report: Report, now: number): DuplicateIdentity | null {
    const start = Date.parse(report.started_at);
    if (!Number.isFinite(start)) return null;
    const w: Window = { id: report.id, start, end: start + Math.max(0, report.duration_ms) };
    const list = this.windows.get(report.node);
    const hit = list?.find((o) => o.id !== w.id && o.start < w.end && w.start < o.end);
    if (list) {
      this.windows.delete(report.node); // re-inserted: the Map's order is least recently reported
      list.push(w);
      if (list.length > keep) list.shift();
      this.windows.set(report.node, list);
    } else {
      this.windows.set(report.node, [w]);
      if (this.windows.size > maxNodes) {
        const oldest = this.windows.keys().next().value;
        if (oldest !== undefined) this.windows.delete(oldest);
      }
    }
    return hit ? { node: report.node, reports: [hit.id, w.id], at: now } : null;
  }
}

export function duplicateMessage(d: DuplicateIdentity): string {
  return `duplicate identity: node ${d.node} ran two overlapping runs (reports ${d.reports[0]} and ${d.reports[1]}), so two machines use its credential (a cloned VM or a copied state_dir). Revoke it (tend server node revoke ${d.node}) and enrol each machine under its own name.`;
}
