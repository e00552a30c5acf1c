/**
 * The last verified catalog, kept in state_dir for runs when the server is unreachable:
 * `catalog.json` (0600) holds the signed envelope as received, its ETag, when it was fetched (or
 * last confirmed by a 304) and the serial last applied. It is verified again on every load, so a
 * tampered cache is refused. Files fetched by hash are kept in `files/SHA` and checked on read.
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { TendError } from "../../core/errors.js";
import { sha256 } from "../../core/hash.js";
import { writePrivate } from "../client/identity.js";
import { type Envelope, verifyEnvelope } from "../client/verify.js";

export const CACHE_FILE = "catalog.json";

export interface CachedCatalog {
  envelope: Envelope;
  etag: string | null;
  /** ms since the epoch: when the server last sent or confirmed this catalog. */
  fetchedAt: number;
}

interface CacheFile {
  format: 1;
  envelope: Envelope | null;
  etag: string | null;
  fetched_at: number;
  applied_serial: number;
}

export class CatalogCache {
  readonly #file: string;
  readonly #filesDir: string;
  #data: CacheFile | null = null;

  constructor(readonly stateDir: string) {
    this.#file = join(stateDir, CACHE_FILE);
    this.#filesDir = join(stateDir, "files");
  }

  async #read(): Promise<CacheFile> {
    if (this.#data) return this.#data;
    let data: CacheFile = { format: 1, envelope: null, etag: null, fetched_at: 0, applied_serial: 0 };
    try {
      const parsed = JSON.parse(await readFile(this.#file, "utf8")) as Partial<CacheFile>;
      if (parsed.format === 1) {
        data = {
          format: 1,
          envelope: parsed.envelope ?? null,
          etag: typeof parsed.etag === "string" ? parsed.etag : null,
          fetched_at: Number(parsed.fetched_at) || 0,
          applied_serial: Number(parsed.applied_serial) || 0,
        };
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" && !(err instanceof SyntaxError)) throw err;
    }
    this.#data = data;
    return data;
  }

  async #write(data: CacheFile): Promise<void> {
    this.#data = data;
    await writePrivate(this.#file, JSON.stringify(data));
  }

  /** The serial of the last catalog applied (0 before the first). */
  async appliedSerial(): Promise<number> {
    return (await this.#read()).applied_serial;
  }

  /** The ETag to send as If-None-Match: only when a cached catalog exists. */
  async etag(): Promise<string | null> {
    const d = await this.#read();
    return d.envelope ? d.etag : null;
  }

  /** The cached catalog, verified against `pinnedPem` for `node`; null when there is none. Throws when tampered. */
  async load(pinnedPem: string, node: string): Promise<CachedCatalog | null> {
    const d = await this.#read();
    if (!d.envelope) return null;
    const envelope = verifyEnvelope(d.envelope, pinnedPem, node, `the cached catalog ${this.#file}`);
    return { envelope, etag: d.etag, fetchedAt: d.fetched_at };
  }

  /** Keep a freshly verified catalog. */
  async store(envelope: Envelope, etag: string | null, now = Date.now()): Promise<void> {
    const d = await this.#read();
    await this.#write({ ...d, envelope, etag, fetched_at: now });
  }

  /** The server said 304: the cached catalog is current as of now. */
  async confirm(now = Date.now()): Promise<void> {
    await this.#write({ ...(await this.#read()), fetched_at: now });
  }

  async markApplied(serial: number): Promise<void> {
    const d = await this.#read();
    if (serial !== d.applied_serial) await this.#write({ ...d, applied_serial: serial });
  }

  /** A file kept from an earlier fetch, if its bytes still hash to `sha`. */
  async file(sha: string): Promise<Buffer | null> {
    if (!/^[0-9a-f]{64}$/.test(sha)) return null;
    try {
      const data = await readFile(join(this.#filesDir, sha));
      return sha256(data) === sha ? data : null;
    } catch {
      return null;
    }
  }

  async keepFile(sha: string, data: Buffer): Promise<void> {
    if (sha256(data) !== sha)
      throw new TendError("TEND_E_CATALOG", `content for ${sha} does not match its sha256`);
    await mkdir(this.#filesDir, { recursive: true, mode: 0o700 });
    await writePrivate(join(this.#filesDir, sha), data);
  }
}
