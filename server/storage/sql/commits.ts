/** The recipe commits the git gate has seen (valid or not, with their problems), and the live one. */
import type { Driver } from "../driver.js";
import { commitRecord } from "../rows.js";
import type { CommitRecord } from "../types.js";

export async function recordCommit(db: Driver, c: CommitRecord): Promise<void> {
  await db.query(
    `INSERT INTO commits (sha, valid, problems, seen_at, summary) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (sha) DO NOTHING`,
    [c.sha, c.valid ? 1 : 0, JSON.stringify(c.problems), c.seen_at, c.summary],
  );
}

export async function updateCommit(db: Driver, c: CommitRecord): Promise<void> {
  await db.query("UPDATE commits SET valid = $2, problems = $3, summary = $4 WHERE sha = $1", [
    c.sha,
    c.valid ? 1 : 0,
    JSON.stringify(c.problems),
    c.summary,
  ]);
}

export async function getCommit(db: Driver, sha: string): Promise<CommitRecord | undefined> {
  const [r] = await db.query("SELECT * FROM commits WHERE sha = $1", [sha]);
  return r ? commitRecord(r) : undefined;
}

export async function listCommits(db: Driver, limit: number): Promise<CommitRecord[]> {
  const rows = await db.query("SELECT * FROM commits ORDER BY seen_at DESC LIMIT $1", [limit]);
  return rows.map(commitRecord);
}

export async function liveCommit(db: Driver): Promise<string | null> {
  const [r] = await db.query("SELECT value FROM state WHERE key = 'live_commit'");
  return r ? String(r.value) : null;
}

export async function setLiveCommit(db: Driver, sha: string): Promise<void> {
  await db.query(
    `INSERT INTO state (key, value) VALUES ('live_commit', $1)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    [sha],
  );
}
