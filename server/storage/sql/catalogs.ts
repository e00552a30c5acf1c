/**
 * What the server remembers of the catalogs it served: each node's catalog serial and digest, and
 * the file contents left out of catalogs, which a node may fetch only from its own last catalog.
 */
import type { Driver } from "../driver.js";
import { num } from "../rows.js";
import type { CatalogFileRow, NodeFile } from "../types.js";

export async function catalogSerial(
  db: Driver,
  node: string,
  digest: string,
  known?: { serial: number; digest: string | null },
): Promise<number> {
  if (known?.digest === digest) return known.serial;
  if (!known) {
    const [cur] = await db.query("SELECT catalog_serial, catalog_digest FROM nodes WHERE name = $1", [node]);
    if (cur && cur.catalog_digest === digest) return num(cur.catalog_serial);
  }
  const [r] = await db.query(
    `UPDATE nodes SET catalog_serial = catalog_serial + 1, catalog_digest = $2
     WHERE name = $1 AND (catalog_digest IS NULL OR catalog_digest <> $2) RETURNING catalog_serial`,
    [node, digest],
  );
  if (r) return num(r.catalog_serial);
  const [again] = await db.query("SELECT catalog_serial FROM nodes WHERE name = $1", [node]);
  return num(again?.catalog_serial ?? 0);
}

export function saveCatalogFiles(db: Driver, digest: string, files: CatalogFileRow[]): Promise<void> {
  return db.tx(async (q) => {
    for (const f of files) {
      if ("data" in f)
        await q("INSERT INTO blobs (sha, data) VALUES ($1, $2) ON CONFLICT (sha) DO NOTHING", [
          f.sha,
          f.data,
        ]);
      else
        await q("INSERT INTO git_blobs (sha, blob, size) VALUES ($1, $2, $3) ON CONFLICT (sha) DO NOTHING", [
          f.sha,
          f.gitBlob,
          f.size,
        ]);
      await q(
        "INSERT INTO catalog_files (digest, sha) VALUES ($1, $2) ON CONFLICT (digest, sha) DO NOTHING",
        [digest, f.sha],
      );
    }
  });
}

export async function nodeFile(db: Driver, node: string, sha: string): Promise<NodeFile | undefined> {
  const [r] = await db.query(
    `SELECT b.data, g.blob, g.size FROM nodes n JOIN catalog_files cf ON cf.digest = n.catalog_digest
     LEFT JOIN blobs b ON b.sha = cf.sha LEFT JOIN git_blobs g ON g.sha = cf.sha
     WHERE n.name = $1 AND cf.sha = $2`,
    [node, sha],
  );
  if (!r) return undefined;
  if (r.data != null) return { data: Buffer.from(r.data as Uint8Array) };
  if (typeof r.blob === "string") return { gitBlob: r.blob, size: num(r.size) };
  return undefined;
}

export async function recordServedCommit(
  db: Driver,
  node: string,
  commit: string,
  at: number,
): Promise<void> {
  await db.query(
    `INSERT INTO served_commits (node, commit_sha, first_at) VALUES ($1, $2, $3)
     ON CONFLICT (node, commit_sha) DO NOTHING`,
    [node, commit, at],
  );
}

export async function servedCommit(db: Driver, node: string, commit: string): Promise<boolean> {
  const rows = await db.query("SELECT 1 AS hit FROM served_commits WHERE node = $1 AND commit_sha = $2", [
    node,
    commit,
  ]);
  return rows.length > 0;
}
