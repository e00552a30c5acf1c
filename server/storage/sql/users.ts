/**
 * Named accounts of the dashboard and their roles; passwords as scrypt hashes only
 * (server/passwords.ts). Removing an account or changing its password ends its sessions.
 */
import type { Role } from "../../roles.js";
import type { Driver } from "../driver.js";
import { userRecord } from "../rows.js";
import type { UserRecord } from "../types.js";

/** What a session of this account is stored under (sessions.principal). */
export const userSessionKey = (name: string): string => `user:${name}`;

export async function createUser(db: Driver, u: UserRecord): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO users (name, role, password_hash, created_at, changed_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (name) DO NOTHING RETURNING name`,
    [u.name, u.role, u.password_hash, u.created_at, u.changed_at],
  );
  return rows.length === 1;
}

export async function getUser(db: Driver, name: string): Promise<UserRecord | undefined> {
  const [r] = await db.query("SELECT * FROM users WHERE name = $1", [name]);
  return r ? userRecord(r) : undefined;
}

export async function listUsers(db: Driver): Promise<UserRecord[]> {
  return (await db.query("SELECT * FROM users ORDER BY name")).map(userRecord);
}

/** Sets the role and/or the password hash; a new password ends the account's sessions. */
export function updateUser(
  db: Driver,
  name: string,
  change: { role?: Role; password_hash?: string },
  now: number,
): Promise<boolean> {
  return db.tx(async (q) => {
    const rows = await q(
      `UPDATE users SET role = COALESCE($2, role), password_hash = COALESCE($3, password_hash),
       changed_at = $4 WHERE name = $1 RETURNING name`,
      [name, change.role ?? null, change.password_hash ?? null, now],
    );
    if (rows.length === 0) return false;
    if (change.password_hash) await q("DELETE FROM sessions WHERE principal = $1", [userSessionKey(name)]);
    return true;
  });
}

export function removeUser(db: Driver, name: string): Promise<boolean> {
  return db.tx(async (q) => {
    const rows = await q("DELETE FROM users WHERE name = $1 RETURNING name", [name]);
    await q("DELETE FROM sessions WHERE principal = $1", [userSessionKey(name)]);
    return rows.length === 1;
  });
}

export const usersSchema = [
  `CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL,
    password_hash TEXT NOT NULL, created_at BIGINT NOT NULL, changed_at BIGINT NOT NULL)`,
];
