/**
 * Serving catalogs cheaply: compiled once per (commit, node, facts digest) and kept in a bounded
 * cache; large file contents moved out to /api/v1/files/SHA (stored in the database once per
 * catalog, so any server serves them, after any restart); the signed, serialised envelope kept
 * per serial so that a fresh catalog from cache is one lookup and a 304 compares one string.
 */
import { canonicalJson } from "../core/canonical.js";
import type { Problem } from "../core/errors.js";
import { sha256 } from "../core/hash.js";
import type { Catalog, Facts } from "../core/types.js";
import type { CompilerFns } from "./compiler.js";
import type { GitTree } from "./git/tree.js";
import type { Metrics } from "./plugins/metrics.js";
import { type SigningKey, signCatalog } from "./signing.js";
import type { CatalogFileRow, Storage } from "./storage/types.js";

interface Compiled {
  catalog?: Catalog;
  problems: Problem[];
  digest: string;
  /** Files left out of the catalog, to be fetched by hash; dropped once stored. */
  unsaved?: CatalogFileRow[];
  /** The envelope as bytes, encoded once: a fresh catalog from cache is written, not re-encoded. */
  signed?: { serial: number; etag: string; body: Buffer };
}

export class CatalogService {
  private readonly cache = new Map<string, Compiled>();

  constructor(
    private readonly compiler: CompilerFns,
    private readonly key: SigningKey,
    private readonly inlineBytes: number,
    private readonly metrics: Metrics,
    private readonly maxEntries = 20_000,
  ) {}

  compile(
    commit: string,
    tree: GitTree,
    node: string,
    facts: Facts,
    factsDigest = sha256(canonicalJson(facts)),
  ): Compiled {
    const key = `${commit}\0${node}\0${factsDigest}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.metrics.catalogCacheHits++;
      return hit;
    }
    const started = process.hrtime.bigint();
    const result = this.compiler.compile(tree, node, facts, { commit });
    this.metrics.compiled(Number(process.hrtime.bigint() - started) / 1e9);
    const fetched: CatalogFileRow[] = [];
    let catalog = result.catalog;
    if (catalog) {
      const files: Catalog["files"] = {};
      for (const [hash, f] of Object.entries(catalog.files)) {
        const bytes =
          f.text !== undefined
            ? Buffer.from(f.text)
            : f.base64 !== undefined
              ? Buffer.from(f.base64, "base64")
              : null;
        if (bytes && bytes.length > this.inlineBytes) {
          fetched.push({ sha: hash, data: bytes });
          files[hash] = { size: f.size };
        } else if (!bytes) {
          // A large file the compiler hashed in git without reading: the node streams it from
          // the git blob (server/routes/catalog.ts); only the blob's name is stored.
          const blob = tree.blobOf(hash);
          const held = blob ? undefined : tree.bytesOf(hash);
          if (blob) fetched.push({ sha: hash, gitBlob: blob, size: f.size });
          else if (held) fetched.push({ sha: hash, data: held });
          else throw new Error(`compiled file ${hash} is neither inline nor in ${tree.label}`);
          files[hash] = { size: f.size };
        } else {
          files[hash] = f;
        }
      }
      catalog = { ...catalog, files };
    }
    const entry: Compiled = {
      catalog,
      problems: result.problems,
      // What the node would apply, not which commit said so: a commit that leaves this node's
      // catalog as it was keeps its digest, serial and ETag, so the node's poll (on schedule, or on
      // the push channel's "new commit" signal) is one 304 and its cached catalog, naming the
      // commit it was compiled from, stays the one it runs.
      digest: catalog ? sha256(canonicalJson({ ...catalog, commit: null })) : "",
      ...(fetched.length > 0 ? { unsaved: fetched } : {}),
    };
    if (this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, entry);
    return entry;
  }

  /** Stores the catalog's fetched files before the catalog is first served (once per entry). */
  async saveFiles(entry: Compiled, storage: Storage): Promise<void> {
    const files = entry.unsaved;
    if (!files) return;
    await storage.saveCatalogFiles(entry.digest, files);
    entry.unsaved = undefined;
  }

  /** The signed envelope for this serial, serialised once. */
  signed(entry: Compiled, serial: number): { etag: string; body: Buffer } {
    if (!entry.catalog) throw new Error("no catalog to sign");
    if (entry.signed?.serial !== serial) {
      const etag = `"${entry.digest.slice(0, 32)}.${serial}"`;
      const body = Buffer.from(JSON.stringify(signCatalog(this.key, entry.catalog, serial)));
      entry.signed = { serial, etag, body };
    }
    return entry.signed;
  }
}
