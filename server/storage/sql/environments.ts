/**
 * Which environment (branch) each node was last served, what it asked for, and why it did not get
 * it (a refusal, or its branch gone): the catalog route writes it when it changes, the git gate
 * judges each branch's commits against its nodes, the dashboard and the API show it.
 */
import type { Driver } from "../driver.js";
import { num } from "../rows.js";
import type { NodeEnvironment } from "../types.js";

export const environmentsSchema = [
  `CREATE TABLE IF NOT EXISTS node_environments (node TEXT PRIMARY KEY, environment TEXT NOT NULL,
    requested TEXT, note TEXT, at BIGINT NOT NULL)`,
];

function record(r: Record<string, unknown>): NodeEnvironment {
  return {
    environment: String(r.environment),
    requested: r.requested === null || r.requested === undefined ? null : String(r.requested),
    note: r.note === null || r.note === undefined ? null : String(r.note),
    at: num(r.at),
  };
}

export async function nodeEnvironments(db: Driver): Promise<Map<string, NodeEnvironment>> {
  const rows = await db.query("SELECT * FROM node_environments");
  return new Map(rows.map((r) => [String(r.node), record(r)]));
}

export async function nodeEnvironment(db: Driver, node: string): Promise<NodeEnvironment | undefined> {
  const [r] = await db.query("SELECT * FROM node_environments WHERE node = $1", [node]);
  return r ? record(r) : undefined;
}

export async function setNodeEnvironment(db: Driver, node: string, e: NodeEnvironment): Promise<void> {
  await db.query(
    `INSERT INTO node_environments (node, environment, requested, note, at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (node) DO UPDATE SET environment = excluded.environment,
       requested = excluded.requested, note = excluded.note, at = excluded.at`,
    [node, e.environment, e.requested, e.note, e.at],
  );
}
