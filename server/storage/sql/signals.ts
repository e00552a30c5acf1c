/**
 * Push signals (server/push/): each signal sent is a row, so an agent that was disconnected when it
 * went out gets it when it reconnects (its `Last-Event-ID` names the last one it saw), and a server
 * whose LISTEN connection dropped catches up. Ids only grow (AUTOINCREMENT, BIGSERIAL), even when
 * old rows are pruned. Also the two node questions the push channel asks: which nodes may be
 * signalled, and which of the credentials holding streams are still valid.
 */
import type { Driver, Row } from "../driver.js";
import type { SignalRecord } from "../types.js";

export function signalStatements(kind: Driver["kind"]): string[] {
  const id = kind === "sqlite" ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY";
  return [
    `CREATE TABLE IF NOT EXISTS signals (id ${id}, at BIGINT NOT NULL, kind TEXT NOT NULL,
      glob TEXT, nodes TEXT, commit_sha TEXT, spread_ms BIGINT NOT NULL)`,
  ];
}

const columns = "id, at, kind, glob, nodes, commit_sha, spread_ms";

function signalRecord(r: Row): SignalRecord {
  return {
    id: Number(r.id),
    at: Number(r.at),
    kind: String(r.kind) as SignalRecord["kind"],
    glob: r.glob === null ? null : String(r.glob),
    nodes: r.nodes === null ? null : (JSON.parse(String(r.nodes)) as string[]),
    commit: r.commit_sha === null ? null : String(r.commit_sha),
    spreadMs: Number(r.spread_ms),
  };
}

export async function recordSignal(db: Driver, s: Omit<SignalRecord, "id">): Promise<number> {
  const [r] = await db.query(
    `INSERT INTO signals (at, kind, glob, nodes, commit_sha, spread_ms) VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING id`,
    [s.at, s.kind, s.glob, s.nodes === null ? null : JSON.stringify(s.nodes), s.commit, s.spreadMs],
  );
  return Number(r?.id);
}

/** Signals with an id above `after`, sent at `since` or later, oldest first. */
export async function signalsAfter(db: Driver, after: number, since: number): Promise<SignalRecord[]> {
  const rows = await db.query(
    `SELECT ${columns} FROM signals WHERE id > $1 AND at >= $2 ORDER BY id LIMIT 1000`,
    [after, since],
  );
  return rows.map(signalRecord);
}

export async function getSignal(db: Driver, id: number): Promise<SignalRecord | undefined> {
  const [r] = await db.query(`SELECT ${columns} FROM signals WHERE id = $1`, [id]);
  return r ? signalRecord(r) : undefined;
}

export async function lastSignalId(db: Driver): Promise<number> {
  const [r] = await db.query("SELECT MAX(id) AS id FROM signals");
  return r?.id === null || r?.id === undefined ? 0 : Number(r.id);
}

export async function pruneSignals(db: Driver, before: number): Promise<void> {
  await db.query("DELETE FROM signals WHERE at < $1", [before]);
}

/** Nodes that may be signalled: enrolled and not revoked (see revokeNode's marker). */
export async function signalableNodes(db: Driver): Promise<string[]> {
  const rows = await db.query(
    "SELECT name FROM nodes WHERE credential_hash NOT LIKE 'revoked:%' ORDER BY name",
  );
  return rows.map((r) => String(r.name));
}

/** Which of these credential hashes still open a node: one query, whatever their number. */
export async function validCredentials(db: Driver, hashes: string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const rows =
    db.kind === "postgres"
      ? await db.query("SELECT credential_hash FROM nodes WHERE credential_hash = ANY($1::text[])", [hashes])
      : await db.query(
          "SELECT credential_hash FROM nodes WHERE credential_hash IN (SELECT value FROM json_each($1))",
          [JSON.stringify(hashes)],
        );
  return new Set(rows.map((r) => String(r.credential_hash)));
}
