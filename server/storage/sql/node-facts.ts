/**
 * Each node's facts flattened, one row per leaf (`os.version_id` → `12`), so a fleet search on a
 * fact is an index range on (path, value) or (path, num) rather than JSON parsed per node. Chosen
 * over PostgreSQL's jsonb/GIN and SQLite's json_extract indexes: GIN serves equality but not
 * ranges or globs, an expression index serves one fixed path only, and one table serves both
 * databases with the same SQL (docs/performance.md has the figures). A list's elements share its
 * path (`ipv4 = 10.0.0.5` matches any address). Rewritten only when a node's facts change
 * (catalog.ts saves facts only then).
 */
import type { Facts, Json } from "../../../core/types.js";
import type { Driver, Query } from "../driver.js";

export function nodeFactsSchema(kind: Driver["kind"]): string[] {
  // PostgreSQL compares text in the database's locale unless told; "C" compares bytes, as SQLite
  // and the search's documentation do, and lets the index serve < and >.
  const collate = kind === "postgres" ? ' COLLATE "C"' : "";
  return [
    `CREATE TABLE IF NOT EXISTS node_facts (node TEXT NOT NULL, path TEXT NOT NULL,
      value TEXT${collate} NOT NULL, num DOUBLE PRECISION, PRIMARY KEY (node, path, value))`,
    "CREATE INDEX IF NOT EXISTS node_facts_value ON node_facts (path, value)",
    "CREATE INDEX IF NOT EXISTS node_facts_num ON node_facts (path, num) WHERE num IS NOT NULL",
  ];
}

/** A number as the search compares it: a JSON number, or a string of digits with an optional fraction. */
export function numeric(v: string | number): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  return /^-?[0-9]{1,15}(\.[0-9]{1,15})?$/.test(v) ? Number(v) : null;
}

export interface FactRow {
  path: string;
  value: string;
  num: number | null;
}

/** The leaves of `facts`: objects dotted, lists' elements under the list's path, each value once. */
export function flattenFacts(facts: Facts | Record<string, Json | undefined>): FactRow[] {
  const out = new Map<string, FactRow>();
  const walk = (path: string, v: Json | undefined) => {
    if (v === undefined) return;
    if (Array.isArray(v)) {
      for (const x of v) walk(path, x);
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) walk(path ? `${path}.${k}` : k, x);
    } else if (path) {
      const value = String(v);
      out.set(`${path}\u0000${value}`, {
        path,
        value,
        num: typeof v === "number" || typeof v === "string" ? numeric(v) : null,
      });
    }
  };
  walk("", facts as Json);
  return [...out.values()];
}

/** Replaces the node's rows (inside the caller's transaction). */
export async function writeNodeFacts(q: Query, node: string, facts: Facts): Promise<void> {
  await q("DELETE FROM node_facts WHERE node = $1", [node]);
  const rows = flattenFacts(facts);
  for (let i = 0; i < rows.length; i += 200) {
    const chunk = rows.slice(i, i + 200);
    const params: unknown[] = [node];
    const values = chunk.map((r) => {
      params.push(r.path, r.value, r.num);
      const n = params.length;
      return `($1, $${n - 2}, $${n - 1}, $${n})`;
    });
    await q(
      `INSERT INTO node_facts (node, path, value, num) VALUES ${values.join(", ")}
       ON CONFLICT (node, path, value) DO NOTHING`,
      params,
    );
  }
}

/**
 * Fills the table for nodes whose facts were saved before it existed (at start, after the
 * tables). Idempotent; a node without leaves is looked at again at each start, which is cheap.
 */
export async function fillNodeFacts(db: Driver): Promise<number> {
  const rows = await db.query(
    `SELECT n.name, n.facts FROM nodes n WHERE n.facts IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM node_facts f WHERE f.node = n.name)`,
  );
  for (const r of rows) {
    let facts: Facts;
    try {
      facts = JSON.parse(String(r.facts)) as Facts;
    } catch {
      continue;
    }
    await db.tx((q) => writeNodeFacts(q, String(r.name), facts));
  }
  return rows.length;
}
