/**
 * Nodes: enrolment (a token spent for a credential), revocation, authentication by credential,
 * their facts, the fleet list, and duplicate-identity alerts.
 */
import { randomBytes } from "node:crypto";
import type { Facts } from "../../../core/types.js";
import type { DuplicateIdentity } from "../../duplicates.js";
import type { Driver } from "../driver.js";
import { duplicateAlert, nodeIdentity, nodeSummary } from "../rows.js";
import type { EnrollOutcome, NodeIdentity, NodeSummary } from "../types.js";
import { writeNodeFacts } from "./node-facts.js";

/** Thrown inside the enrolment transaction to roll it back: the token was spent meanwhile. */
class TokenSpent extends Error {}

/**
 * Node first, then token, in one transaction. The name is claimed by the INSERT itself (its
 * primary key), not by a look beforehand: on PostgreSQL two simultaneous first enrolments of one
 * name both saw no row and the second silently replaced the first's credential. Now the second's
 * INSERT waits for the first to commit and then conflicts, so it is refused (`node-exists`) or,
 * with a token that allows it, supersedes the first (and says so). A token found spent rolls the
 * whole enrolment back.
 */
export async function enroll(
  db: Driver,
  a: { tokenHash: string; node: string; credentialHash: string; now: number; allowSupersede: boolean },
): Promise<EnrollOutcome> {
  try {
    return await db.tx(async (q) => {
      const claimed = await q(
        `INSERT INTO nodes (name, credential_hash, enrolled_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING RETURNING name`,
        [a.node, a.credentialHash, a.now],
      );
      const superseded = claimed.length === 0;
      if (superseded) {
        if (!a.allowSupersede) return { ok: false, reason: "node-exists" } as const;
        await q("UPDATE nodes SET credential_hash = $2, enrolled_at = $3 WHERE name = $1", [
          a.node,
          a.credentialHash,
          a.now,
        ]);
      }
      const spent = await q(
        `UPDATE tokens SET uses_left = uses_left - 1
         WHERE hash = $1 AND (uses_left IS NULL OR uses_left > 0) RETURNING hash`,
        [a.tokenHash],
      );
      if (spent.length === 0) throw new TokenSpent();
      await q("INSERT INTO enrollments (node, at, token_hash, superseded) VALUES ($1, $2, $3, $4)", [
        a.node,
        a.now,
        a.tokenHash,
        superseded ? 1 : 0,
      ]);
      return { ok: true, superseded } as const;
    });
  } catch (err) {
    if (err instanceof TokenSpent) return { ok: false, reason: "token-used" };
    throw err;
  }
}

export function revokeNode(db: Driver, name: string, now: number): Promise<boolean> {
  return db.tx(async (q) => {
    // Not a sha256 in hex, so no secret hashes to it; unique per node and revocation.
    const marker = `revoked:${now}:${randomBytes(16).toString("hex")}`;
    const rows = await q("UPDATE nodes SET credential_hash = $2 WHERE name = $1 RETURNING name", [
      name,
      marker,
    ]);
    if (rows.length === 0) return false;
    await q("INSERT INTO revocations (at, kind, subject) VALUES ($1, $2, $3)", [now, "node", name]);
    return true;
  });
}

export async function authenticateOne(db: Driver, credentialHash: string): Promise<NodeIdentity | undefined> {
  const [r] = await db.query(
    "SELECT name, catalog_serial, catalog_digest FROM nodes WHERE credential_hash = $1",
    [credentialHash],
  );
  return r ? nodeIdentity(r) : undefined;
}

/** PostgreSQL only (`ANY`): the credentials of one turn in one query. */
export async function authenticateMany(db: Driver, hashes: string[]): Promise<Map<string, NodeIdentity>> {
  const rows = await db.query(
    `SELECT credential_hash, name, catalog_serial, catalog_digest FROM nodes
     WHERE credential_hash = ANY($1::text[])`,
    [hashes],
  );
  return new Map(rows.map((r) => [String(r.credential_hash), nodeIdentity(r)]));
}

export function saveFacts(db: Driver, node: string, facts: Facts, now: number): Promise<void> {
  return db.tx(async (q) => {
    await q("UPDATE nodes SET facts = $2, last_seen = $3 WHERE name = $1", [
      node,
      JSON.stringify(facts),
      now,
    ]);
    await writeNodeFacts(q, node, facts); // the fleet search's index (node-facts.ts)
  });
}

export async function knownFacts(db: Driver): Promise<{ node: string; facts: Facts }[]> {
  // Not a revoked node's (see revokeNode's marker): the git gate must not judge commits by them.
  const rows = await db.query(
    "SELECT name, facts FROM nodes WHERE facts IS NOT NULL AND credential_hash NOT LIKE 'revoked:%' ORDER BY name",
  );
  return rows.map((r) => ({ node: String(r.name), facts: JSON.parse(String(r.facts)) as Facts }));
}

export async function listNodes(db: Driver): Promise<NodeSummary[]> {
  const rows = await db.query(
    `SELECT n.name, n.enrolled_at, n.last_seen, n.last_report_id, n.last_report_at, n.last_status,
     n.last_commit, (SELECT COUNT(*) FROM report_resources rr
       WHERE rr.report_id = n.last_report_id AND rr.drifted = 1) AS drifted
     FROM nodes n ORDER BY n.name`,
  );
  return rows.map(nodeSummary);
}

export async function nodeExists(db: Driver, name: string): Promise<boolean> {
  return (await db.query("SELECT 1 AS one FROM nodes WHERE name = $1", [name])).length > 0;
}

export async function recordDuplicateIdentity(db: Driver, alert: DuplicateIdentity): Promise<void> {
  await db.query(
    `INSERT INTO state (key, value) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    [`duplicate:${alert.node}`, JSON.stringify(alert)],
  );
}

export async function duplicateIdentities(db: Driver): Promise<DuplicateIdentity[]> {
  // An alert ends when its node is re-enrolled (enrolled_at moves past it) or revoked.
  const rows = await db.query(
    `SELECT s.value, n.enrolled_at FROM state s JOIN nodes n ON s.key = 'duplicate:' || n.name
     WHERE n.credential_hash NOT LIKE 'revoked:%'`,
  );
  return rows
    .map(duplicateAlert)
    .filter((x) => x.alert.at >= x.enrolled)
    .map((x) => x.alert)
    .sort((a, b) => b.at - a.at);
}
