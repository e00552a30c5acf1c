/**
 * The recipe commits the git gate has seen (valid or not, with their problems), and the live one,
 * per branch (docs/environments.md). The default environment's branch keeps the tables it always
 * had (`commits`, state `live_commit`), so a server that follows one branch reads as before; every
 * other branch's verdicts are in `branch_commits` keyed by (branch, sha), since one commit may head
 * several branches and is judged in each against that environment's nodes.
 */
import type { Driver } from "../driver.js";
import { commitRecord } from "../rows.js";
import type { CommitRecord } from "../types.js";

export const branchCommitsSchema = [
  `CREATE TABLE IF NOT EXISTS branch_commits (branch TEXT NOT NULL, sha TEXT NOT NULL,
    valid INTEGER NOT NULL, problems TEXT NOT NULL, seen_at BIGINT NOT NULL, summary TEXT NOT NULL,
    PRIMARY KEY (branch, sha))`,
  "CREATE INDEX IF NOT EXISTS branch_commits_seen ON branch_commits (branch, seen_at)",
];

const liveKey = (branch?: string) => (branch ? `live_commit:${branch}` : "live_commit");

export async function recordCommit(db: Driver, c: CommitRecord): Promise<void> {
  const values = [c.sha, c.valid ? 1 : 0, JSON.stringify(c.problems), c.seen_at, c.summary];
  if (c.branch) {
    await db.query(
      `INSERT INTO branch_commits (sha, valid, problems, seen_at, summary, branch)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (branch, sha) DO NOTHING`,
      [...values, c.branch],
    );
    return;
  }
  await db.query(
    `INSERT INTO commits (sha, valid, problems, seen_at, summary) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (sha) DO NOTHING`,
    values,
  );
}

export async function updateCommit(db: Driver, c: CommitRecord): Promise<void> {
  const values = [c.sha, c.valid ? 1 : 0, JSON.stringify(c.problems), c.summary];
  if (c.branch) {
    await db.query(
      "UPDATE branch_commits SET valid = $2, problems = $3, summary = $4 WHERE sha = $1 AND branch = $5",
      [...values, c.branch],
    );
    return;
  }
  await db.query("UPDATE commits SET valid = $2, problems = $3, summary = $4 WHERE sha = $1", values);
}

export async function getCommit(db: Driver, sha: string, branch?: string): Promise<CommitRecord | undefined> {
  const [r] = branch
    ? await db.query("SELECT * FROM branch_commits WHERE sha = $1 AND branch = $2", [sha, branch])
    : await db.query("SELECT * FROM commits WHERE sha = $1", [sha]);
  return r ? commitRecord(r) : undefined;
}

export async function listCommits(db: Driver, limit: number, branch?: string): Promise<CommitRecord[]> {
  const rows = branch
    ? await db.query("SELECT * FROM branch_commits WHERE branch = $2 ORDER BY seen_at DESC LIMIT $1", [
        limit,
        branch,
      ])
    : await db.query("SELECT * FROM commits ORDER BY seen_at DESC LIMIT $1", [limit]);
  return rows.map(commitRecord);
}

export async function liveCommit(db: Driver, branch?: string): Promise<string | null> {
  const [r] = await db.query("SELECT value FROM state WHERE key = $1", [liveKey(branch)]);
  return r ? String(r.value) : null;
}

export async function setLiveCommit(db: Driver, sha: string, branch?: string): Promise<void> {
  await db.query(
    `INSERT INTO state (key, value) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    [liveKey(branch), sha],
  );
}

/** The live commit of every branch other than the default one (branch → sha). */
export async function branchLives(db: Driver): Promise<Map<string, string>> {
  const rows = await db.query("SELECT key, value FROM state WHERE key LIKE 'live_commit:%'");
  return new Map(rows.map((r) => [String(r.key).slice("live_commit:".length), String(r.value)]));
}

/** A branch deleted from git: it has no live commit any more (its verdicts stay, for the record). */
export async function dropBranch(db: Driver, branch: string): Promise<void> {
  await db.query("DELETE FROM state WHERE key = $1", [liveKey(branch)]);
}
