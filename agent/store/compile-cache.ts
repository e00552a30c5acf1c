/**
 * The compile cache of masterless runs (`tend apply DIR`): the catalog compiled for a node, kept in
 * state_dir with what the compiler read to make it, so that a run whose recipes did not change loads
 * the catalog instead of parsing and compiling the repository again (and never loads the compiler).
 *
 * Correct by construction: the compiler is a pure function of the repository as a RepoSource, the
 * node name and the facts (core/ touches no file, clock or environment). Compiling through a
 * recording RepoSource notes every question the compiler asked — `stat` (the entry type), `list`
 * (the names) and `read` (the sha256 of the bytes) — and a hit requires that every one of them gets
 * the same answer from the repository now. An edited file hashes differently, a new file changes a
 * listing or a stat, a removed one too; a file the compiler never looked at cannot change its output.
 * The key also covers the node name, the facts, the repository's real path and the compiler build.
 *
 * The file (`compile-cache.json`, 0600; JSON lines: a header, then a line per resource, read a line
 * at a time) is replaced atomically; a torn, corrupt or foreign one is ignored (the catalog must pass
 * the catalog schema, and the header counts the resource lines) and rebuilt. It holds no file content: the
 * contents go to the content store (agent/store/content-by-hash.ts, `STATE_DIR/content/`), named by sha256
 * and hash-checked on read, and a run from the cache reads a blob only when a kind needs the bytes
 * (a write or a diff) through the engine's `fetchContent`. A missing or tampered blob is never used:
 * the recipes are compiled again (the same answers, so the same catalog) and the content taken from
 * there. Memory and start-up of a no-op run therefore do not grow with the size of the contents.
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { canonicalJson } from "../../core/canonical.js";
import type { RepoEntry, RepoSource } from "../../core/repo.js";
import type { Catalog, CatalogFile, Facts } from "../../core/types.js";
import { type FsRepo, fsRepo } from "../repo-fs.js";
import type { ContentFile } from "../resources/kind.js";
import { atomicWrite } from "../sys/atomic-write.js";
import { hashFileSync } from "../sys/hash-file.js";
import { ContentStore } from "./content-by-hash.js";

export const CACHE_FILE = "compile-cache.json";
const FORMAT = 2;

/** What the compiler asked the repository, with the answers it got. */
export interface Reads {
  stat: Record<string, RepoEntry["type"] | null>;
  list: Record<string, string[]>;
  read: Record<string, string>;
}

/**
 * The first line of the cache file. The file is JSON lines: this header, then one line per
 * resource, in order; read a line at a time, so a run never holds the whole file as one string.
 */
interface CacheHeader {
  format: number;
  key: string;
  reads: Reads;
  /** How many resource lines follow: a file cut short at a line boundary is refused too. */
  resources: number;
  /** The catalog without its resources and with no files (their contents are in the content store). */
  catalog: Omit<Catalog, "resources" | "files">;
}

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

/**
 * The build of the compiler: this module's file (size, mtime, inode) and the names beside it. In
 * dist/ the chunk names carry content hashes, so any change to the code changes them; the one-file
 * agent bundle is this module's own file. (Run from the TypeScript sources, an edit to core/ alone
 * is not seen: delete the cache, or use a fresh state_dir, when developing the compiler.)
 */
function compilerBuild(): string {
  try {
    const self = fileURLToPath(import.meta.url);
    const st = statSync(self);
    const names = readdirSync(dirname(self)).sort();
    return `${self}\0${st.size}\0${st.mtimeMs}\0${st.ino}\0${names.join("\0")}`;
  } catch {
    return "unknown";
  }
}

function keyOf(root: string, node: string, facts: Facts): string {
  return sha256(canonicalJson({ format: FORMAT, root, node, facts, build: compilerBuild() }));
}

/** A RepoSource that notes every question asked of `inner` and its answer. */
export function recording(inner: FsRepo): { repo: FsRepo; reads: Reads } {
  const reads: Reads = { stat: {}, list: {}, read: {} };
  const repo: FsRepo = {
    label: inner.label,
    stat(p) {
      const e = inner.stat(p);
      reads.stat[p] = e?.type ?? null;
      return e;
    },
    list(p) {
      const names = inner.list(p);
      reads.list[p] = [...names];
      return names;
    },
    read(p) {
      const data = inner.read(p);
      reads.read[p] = sha256(data);
      return data;
    },
    // A file's size is asked before it is read: the read's hash records the answer too.
    size: (p) => inner.size(p),
    maxFileBytes: inner.maxFileBytes,
    // A large file hashed where it lies is a read whose answer is that hash.
    sha256(p) {
      const sha = inner.sha256(p);
      reads.read[p] = sha;
      return sha;
    },
    fileOf: (sha) => inner.fileOf(sha),
  };
  return { repo, reads };
}

/**
 * True when the repository at `root` answers every recorded question as it did. `repo` is
 * fsRepo(root): a read is the file at root/path once `stat` says it is a file there, as fsRepo reads it.
 */
function unchanged(repo: RepoSource, root: string, reads: Reads): boolean {
  for (const [p, type] of Object.entries(reads.stat)) if ((repo.stat(p)?.type ?? null) !== type) return false;
  for (const [p, names] of Object.entries(reads.list)) {
    const now = repo.list(p);
    if (now.length !== names.length || now.some((n, i) => n !== names[i])) return false;
  }
  for (const [p, hash] of Object.entries(reads.read)) {
    try {
      if (repo.stat(p)?.type !== "file" || hashFileSync(join(root, p)) !== hash) return false;
    } catch {
      return false;
    }
  }
  return true;
}

function isReads(x: unknown): x is Reads {
  const r = x as Reads | null;
  return (
    typeof r === "object" &&
    r !== null &&
    typeof r.stat === "object" &&
    r.stat !== null &&
    typeof r.list === "object" &&
    r.list !== null &&
    Object.values(r.list).every(Array.isArray) &&
    typeof r.read === "object" &&
    r.read !== null
  );
}

export interface Compiled {
  /**
   * The catalog. From the cache (a hit), it lists no files: their content comes from `fetchContent`,
   * which the engine calls when a kind needs the bytes.
   */
  catalog: Catalog;
  /** The catalog came from the cache. */
  hit: boolean;
  /** Content by sha256 for a catalog from the cache (EngineOptions.fetchContent); checked against the hash. */
  fetchContent?: (sha: string) => Promise<Buffer>;
  /**
   * Content not inline, as a file to copy from (EngineOptions.fetchContentFile): the content store's
   * blob, or the recipe folder's own file for a large one compiled just now.
   */
  fetchContentFile: (sha: string) => Promise<ContentFile | null>;
  /**
   * Call only where writing state_dir is allowed (an apply, holding the run lock). After a compile:
   * stores the contents, the catalog and what the compiler read, and removes contents no longer
   * referenced. After a hit: lets `fetchContent` put back a blob it had to derive again.
   */
  save(): Promise<void>;
}

export interface CompileCacheOptions {
  /** Told when a stored content blob is refused (missing or failing its hash) and derived again. */
  log?: (message: string) => void;
}

/** The bytes of a catalog file carried inline, or null. */
function inline(f: CatalogFile | undefined): Buffer | null {
  if (f?.text !== undefined) return Buffer.from(f.text, "utf8");
  if (f?.base64 !== undefined) return Buffer.from(f.base64, "base64");
  return null;
}

/**
 * The catalog for `node` from the recipe folder `dir`: from `stateDir`'s cache when the repository,
 * node, facts and compiler are those it was made with, else compiled (the compiler is loaded only
 * then). Compile errors throw as from compileDir and cache nothing.
 */
export async function compileCached(
  dir: string,
  node: string,
  facts: Facts,
  stateDir: string,
  options: CompileCacheOptions = {},
): Promise<Compiled> {
  const root = realpathSync(resolve(dir));
  const key = keyOf(root, node, facts);
  const path = join(stateDir, CACHE_FILE);
  const store = new ContentStore(stateDir);
  const compile = async (): Promise<{ catalog: Catalog; reads: Reads; repo: FsRepo }> => {
    const [{ compileOrThrow }, { assertRepoDir }] = await Promise.all([
      import("../../core/compile.js"),
      import("../compile-local.js"),
    ]);
    assertRepoDir(dir);
    const { repo, reads } = recording(fsRepo(dir));
    return { catalog: compileOrThrow(repo, node, facts), reads, repo };
  };
  /** A large file's bytes where the compile found them (a file in the recipe folder). */
  const sourceFile = (c: { repo: FsRepo; catalog: Catalog }, sha: string): ContentFile | null => {
    const path = c.catalog.files[sha] && !inline(c.catalog.files[sha]) ? c.repo.fileOf(sha) : undefined;
    return path ? { path, size: c.catalog.files[sha]!.size } : null;
  };

  const cached = await load(path, key, root);
  if (cached) {
    let writable = false;
    let fresh: Promise<{ catalog: Catalog; repo: FsRepo }> | null = null;
    /** The recipes compiled again (once), said once: the first blob found missing or torn. */
    const recompile = (sha: string) => {
      if (!fresh) {
        options.log?.(
          `tend: stored content ${sha.slice(0, 12)}… in ${store.dir} is missing or fails its sha256 check; compiling the recipes again`,
        );
        fresh = compile();
      }
      return fresh;
    };
    const fetchContent = async (sha: string): Promise<Buffer> => {
      const kept = store.read(sha);
      if (kept) return kept;
      // Missing, torn or tampered: never used. The repository answers as it did when the catalog
      // was made, so compiling it again gives the same catalog, with the content inline.
      const again = await recompile(sha);
      const large = sourceFile(again, sha);
      const data = large ? readFileSync(large.path) : inline(again.catalog.files[sha]);
      if (!data || sha256(data) !== sha) {
        throw new Error(
          `no content for sha256 ${sha}: not in ${store.dir}, nor in the recipes compiled again (did they change during the run?)`,
        );
      }
      if (writable) {
        try {
          store.put(sha, data);
        } catch {
          // A read-only or full state_dir: the run goes on with the bytes it has.
        }
      }
      return data;
    };
    const fetchContentFile = async (sha: string): Promise<ContentFile | null> => {
      // Checked before it is offered (in chunks): a torn blob would fail the copy on every run.
      const kept = store.file(sha);
      if (kept && hashFileSync(kept.path) === sha) return kept;
      const large = sourceFile(await recompile(sha), sha);
      if (large) {
        if (writable) {
          try {
            store.putFile(sha, large.path);
          } catch {
            // A read-only or full state_dir: the run copies from the recipe folder instead.
          }
        }
        return large;
      }
      // A small one: its bytes come from fetchContent (derived again, stored when allowed).
      return null;
    };
    return {
      catalog: cached,
      hit: true,
      fetchContent,
      fetchContentFile,
      save: async () => {
        writable = true;
      },
    };
  }

  const compiled = await compile();
  const { catalog, reads } = compiled;
  return {
    catalog,
    hit: false,
    // A kind that wants a large file's bytes whole (not the file kind, which copies in chunks).
    fetchContent: async (sha) => {
      const large = sourceFile(compiled, sha);
      const data = large ? readFileSync(large.path) : null;
      if (!data || sha256(data) !== sha)
        throw new Error(`no content for sha256 ${sha} in the recipes (did they change during the run?)`);
      return data;
    },
    fetchContentFile: async (sha) => {
      const large = sourceFile(compiled, sha);
      if (!large) throw new Error(`the catalog carries no content for sha256 ${sha}`);
      return large;
    },
    save: async () => {
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      // Contents first, then the catalog that names them: a crash in between leaves only unused blobs.
      for (const [sha, f] of Object.entries(catalog.files)) {
        const data = inline(f);
        if (data && !store.has(sha, data.length)) store.put(sha, data);
        // A large file: copied from the recipe folder in chunks, checked against its hash.
        const large = data ? null : sourceFile(compiled, sha);
        if (large && !store.has(sha, large.size)) store.putFile(sha, large.path);
      }
      const { resources, files: _, ...rest } = catalog;
      const header: CacheHeader = { format: FORMAT, key, reads, resources: resources.length, catalog: rest };
      const lines = [JSON.stringify(header)];
      for (const r of resources) lines.push(JSON.stringify(r));
      await atomicWrite(path, Buffer.from(`${lines.join("\n")}\n`), { mode: 0o600 });
      store.prune(new Set(Object.keys(catalog.files)));
    },
  };
}

/** Calls `line` with each line of the file at `path`, read in chunks (no string of the whole file). */
function eachLine(path: string, line: (text: string) => boolean): void {
  const chunk = Buffer.allocUnsafe(1 << 16);
  const fd = openSync(path, "r");
  try {
    let carry: Buffer | null = null;
    for (let n = readSync(fd, chunk); n > 0; n = readSync(fd, chunk)) {
      const data: Buffer = carry ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let start = 0;
      for (let end = data.indexOf(10, start); end >= 0; end = data.indexOf(10, start)) {
        if (!line(data.toString("utf8", start, end))) return;
        start = end + 1;
      }
      carry = start < data.length ? Buffer.from(data.subarray(start)) : null; // `chunk` is reused
    }
    if (carry) line(carry.toString("utf8"));
  } finally {
    closeSync(fd);
  }
}

async function load(path: string, key: string, root: string): Promise<Catalog | null> {
  let header: Partial<CacheHeader> | null = null;
  const resources: Catalog["resources"] = [];
  // Each id once in memory: a `require` names an earlier resource, so it shares that one's string.
  const ids = new Map<string, string>();
  let fresh = true;
  try {
    eachLine(path, (text) => {
      if (!header) {
        header = JSON.parse(text) as Partial<CacheHeader>;
        // Not this cache, or the repository changed: stop reading.
        fresh =
          header?.format === FORMAT &&
          header.key === key &&
          isReads(header.reads) &&
          unchanged(fsRepo(root), root, header.reads);
        return fresh;
      }
      const r = JSON.parse(text) as Catalog["resources"][number];
      if (typeof r?.id === "string") {
        ids.set(r.id, r.id);
        // The name as a slice of the id ("type:name"): one string's bytes instead of two.
        if (r.id.length === r.type.length + 1 + r.name.length && r.id.endsWith(r.name))
          r.name = r.id.slice(r.type.length + 1);
        if (Array.isArray(r.require)) r.require = r.require.map((d) => ids.get(d) ?? d);
      }
      resources.push(r);
      return true;
    });
  } catch {
    return null; // missing, unreadable or torn: compile
  }
  const h = header as Partial<CacheHeader> | null;
  if (!fresh || !h || h.resources !== resources.length) return null;
  const catalog = { ...h.catalog, resources, files: {} };
  const { isValid } = await import("../../core/schema.js");
  return isValid("catalog", catalog) ? (catalog as Catalog) : null;
}
