/** Enrolment and admin tokens (by hash only), and the record of what was revoked. */
import type { Driver, Query } from "../driver.js";
import { revocationRecord, tokenRecord } from "../rows.js";
import type { NewToken, RevocationRecord, TokenRecord } from "../types.js";

/** The id a token is shown and revoked by: the first 12 hex digits of its hash. */
export const tokenId = (hash: string): string => hash.slice(0, 12);

/** What a dashboard session opened with an admin token is stored under (sessions.principal). */
export const tokenSessionKey = (hash: string): string => `token:${hash}`;

export async function createToken(db: Driver, t: NewToken): Promise<void> {
  await db.query(
    `INSERT INTO tokens (hash, kind, created_at, expires_at, uses_left, node_glob, reenroll, role)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      t.hash,
      t.kind,
      t.created_at,
      t.expires_at,
      t.uses_left,
      t.node_glob,
      t.reenroll ? 1 : 0,
      t.kind === "admin" ? (t.role ?? "admin") : null,
    ],
  );
}

export async function getToken(db: Driver, hash: string): Promise<TokenRecord | undefined> {
  const [r] = await db.query("SELECT * FROM tokens WHERE hash = $1", [hash]);
  return r ? tokenRecord(r) : undefined;
}

export async function listTokens(db: Driver): Promise<TokenRecord[]> {
  const rows = await db.query("SELECT * FROM tokens ORDER BY created_at, hash");
  return rows.map(tokenRecord);
}

export function revokeToken(
  db: Driver,
  hashPrefix: string,
  now: number,
): Promise<{ revoked: string[]; ambiguous: boolean }> {
  if (!/^[0-9a-f]{1,64}$/.test(hashPrefix)) return Promise.resolve({ revoked: [], ambiguous: false });
  return db.tx(async (q) => {
    const rows = await q("SELECT hash, kind FROM tokens WHERE hash LIKE $1", [`${hashPrefix}%`]);
    if (rows.length !== 1) return { revoked: [], ambiguous: rows.length > 1 };
    const hash = String(rows[0]?.hash);
    await deleteTokens(q, [hash], now);
    // The dashboard sessions it opened end with it (they read the token at each request anyway).
    if (rows[0]?.kind === "admin")
      await q("DELETE FROM sessions WHERE principal = $1", [tokenSessionKey(hash)]);
    return { revoked: [hash], ambiguous: false };
  });
}

export function revokeExpiredTokens(db: Driver, now: number): Promise<string[]> {
  return db.tx(async (q) => {
    const rows = await q(
      `SELECT hash FROM tokens WHERE (expires_at IS NOT NULL AND expires_at <= $1)
       OR (uses_left IS NOT NULL AND uses_left <= 0) ORDER BY hash`,
      [now],
    );
    const hashes = rows.map((r) => String(r.hash));
    await deleteTokens(q, hashes, now);
    return hashes;
  });
}

async function deleteTokens(q: Query, hashes: string[], now: number): Promise<void> {
  for (const hash of hashes) {
    await q("DELETE FROM tokens WHERE hash = $1", [hash]);
    await q("INSERT INTO revocations (at, kind, subject) VALUES ($1, $2, $3)", [now, "token", tokenId(hash)]);
  }
}

/** Token and node revocations, newest first. */
export async function revocations(db: Driver, limit: number): Promise<RevocationRecord[]> {
  const rows = await db.query(
    "SELECT at, kind, subject FROM revocations ORDER BY at DESC, subject LIMIT $1",
    [limit],
  );
  return rows.map(revocationRecord);
}
