/**
 * Which commits the server served to which node (issue 15: a report's commit is trusted only if
 * the node could have run it). The catalog route records the commit of every catalog it sends; a
 * report naming a commit never served to its node is stored with `commit: null` and the claim kept
 * as `unverified_commit`, so the fleet never counts it "on the newest commit".
 *
 * Stored in the database (every server of a PostgreSQL fleet, and after a restart, knows what any
 * of them served); a bounded in-memory set spares the database a write per catalog request and a
 * read per report in the common case (the same node, the same commit, every run).
 */
import type { Report } from "../core/types.js";
import type { Storage } from "./storage/types.js";

export class ServedCommits {
  private readonly known = new Set<string>();

  constructor(
    private readonly storage: Storage,
    private readonly max = 100_000,
  ) {}

  private remember(key: string): void {
    if (this.known.size >= this.max) {
      const oldest = this.known.values().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
    this.known.add(key);
  }

  /** Notes that `node` was sent a catalog compiled from `commit`. */
  async served(node: string, commit: string, at: number): Promise<void> {
    const key = `${node}\0${commit}`;
    if (this.known.has(key)) return;
    await this.storage.recordServedCommit(node, commit, at);
    this.remember(key);
  }

  /** Whether `node` was ever sent a catalog compiled from `commit`. */
  async wasServed(node: string, commit: string): Promise<boolean> {
    const key = `${node}\0${commit}`;
    if (this.known.has(key)) return true;
    const found = await this.storage.servedCommit(node, commit);
    if (found) this.remember(key);
    return found;
  }

  /**
   * The report as it is to be stored: as sent when its commit was served to its node (or it names
   * none), else with `commit: null` and the claim in `unverified_commit`.
   */
  async vetted(sent: Report): Promise<{ report: Report; unverified: string | null }> {
    // Only the server says a commit is unverified: a value in the body is not the node's to give.
    const { unverified_commit: _dropped, ...report } = sent;
    const claimed = report.commit;
    const plain = _dropped === undefined ? sent : report;
    if (claimed === null || claimed === undefined) return { report: plain, unverified: null };
    if (await this.wasServed(report.node, claimed)) return { report: plain, unverified: null };
    return { report: { ...report, commit: null, unverified_commit: claimed }, unverified: claimed };
  }
}
