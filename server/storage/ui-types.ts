/**
 * What the dashboard (server/ui/) reads and keeps, as types: admin sessions and the page queries'
 * rows, and the `UiStorage` interface that ui.ts implements (`Storage.ui`).
 */
import type { Facts } from "../../core/types.js";
import type { Expr } from "../search/parse.js";
import type { TimelineBucket } from "./sql/timeline.js";

export interface SessionRecord {
  /** sha256 (hex) of the session secret. */
  hash: string;
  created_at: number;
  expires_at: number;
  /**
   * Who opened it: `user:NAME` or `token:HASH` (the admin token's full hash). Its role is read
   * from the account or the token at each request, so a role change, a removed account or a
   * revoked token takes effect at once. Null for sessions from before roles: they open nothing.
   */
  principal: string | null;
}

/** A session as created (tests make some without a principal). */
export type NewSession = Omit<SessionRecord, "principal"> & { principal?: string | null };

export type FleetSort = "name" | "last_run" | "status" | "drifted" | "commit";

export interface FleetQuery {
  status?: string;
  driftedOnly?: boolean;
  staleOnly?: boolean;
  /** Case-insensitive substring of the node name. */
  search?: string;
  /** Nodes last served this environment (the default one: also nodes never classified). */
  environment?: { name: string; isDefault: boolean };
  /** A fleet search (server/search/parse.ts). */
  where?: Expr;
  /** The newest valid commit, for `commit = live` in `where`. */
  live?: string | null;
  stale: StaleCut;
  sort: FleetSort;
  desc: boolean;
  offset: number;
  limit: number;
}

/** A node is stale when its last report started before `iso`, or it never reported and enrolled before `ms`. */
export interface StaleCut {
  iso: string;
  ms: number;
}

export interface FleetRow {
  name: string;
  enrolled_at: number;
  last_seen: number | null;
  last_report_id: string | null;
  last_report_at: string | null;
  last_status: string | null;
  last_commit: string | null;
  drifted: number;
  stale: boolean;
}

export interface FleetCounts {
  nodes: number;
  failing: number;
  drifted: number;
  stale: number;
  onLive: number;
}

export interface RunPoint {
  id: string;
  node: string;
  started_at: string;
  status: string;
  mode: string;
  commit: string | null;
  drifted: number;
  /** Only from `nodeRuns` (0 in the fleet strip). */
  changed: number;
  failed: number;
  /** Only from `nodeRuns`: what started the run (the report's `trigger`; null when it names none). */
  trigger?: string | null;
}

export interface NodeInfo {
  name: string;
  enrolled_at: number;
  last_seen: number | null;
  facts: Facts | null;
  last_report_id: string | null;
  last_status: string | null;
  last_commit: string | null;
  reports: number;
}

export interface DriftHistory {
  resource: string;
  node: string;
  times: number;
  first: string;
}

export type Rollout = Record<"converged" | "failed" | "older" | "stale", number>;

export interface UiStorage {
  createSession(s: NewSession): Promise<void>;
  /** The session if it exists and has not expired at `now`. */
  getSession(hash: string, now: number): Promise<SessionRecord | undefined>;
  deleteSession(hash: string): Promise<void>;
  fleetCounts(stale: StaleCut, liveCommit: string | null): Promise<FleetCounts>;
  fleet(q: FleetQuery): Promise<{ rows: FleetRow[]; total: number }>;
  /** Each node's newest `perNode` runs, newest first. */
  recentRuns(nodes: string[], perNode: number): Promise<Map<string, RunPoint[]>>;
  nodeInfo(name: string): Promise<NodeInfo | undefined>;
  /** A node's runs, newest first, with changed / drifted / failed resource counts. */
  nodeRuns(node: string, limit: number, offset: number): Promise<RunPoint[]>;
  driftHistory(resources: string[]): Promise<DriftHistory[]>;
  rollout(liveCommit: string | null, stale: StaleCut): Promise<Rollout>;
  /** The fleet's runs per bucket of `bucketMs` over the last `windowMs` (sql/timeline.ts). */
  timeline(windowMs: number, bucketMs: number, now: number): Promise<TimelineBucket[]>;
}
