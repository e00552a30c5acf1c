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
 * The file (`compile-cache.json`, 0600) is replaced atomically; a torn, corrupt or foreign one is
 * ignored (the catalog must pass the catalog schema) and rebuilt.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { canonicalJson } from "../core/canonical.js";
import type { RepoEntry, RepoSource } from "../core/repo.js";
import type { Catalog, Facts } from "../core/types.js";
import { fsRepo } from "./repo-fs.js";
import { atomicWrite } from "./sys/atomic-write.js";

export const CACHE_FILE = "compile-cache.json";
const FORMAT = 1;

/** What the compiler asked the repository, with the answers it got. */
export interface Reads {
  stat: Record<string, RepoEntry["type"] | null>;
  list: Record<string, string[]>;
  read: Record<string, string>;
}

interface CacheFile {
  format: number;
  key: string;
  reads: Reads;
  catalog: Catalog;
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
export function recording(inner: RepoSource): { repo: RepoSource; reads: Reads } {
  const reads: Reads = { stat: {}, list: {}, read: {} };
  const repo: RepoSource = {
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
  };
  return { repo, reads };
}

/** True when `repo` answers every recorded question as it did. */
function unchanged(repo: RepoSource, reads: Reads): boolean {
  for (const [p, type] of Object.entries(reads.stat)) if ((repo.stat(p)?.type ?? null) !== type) return false;
  for (const [p, names] of Object.entries(reads.list)) {
    const now = repo.list(p);
    if (now.length !== names.length || now.some((n, i) => n !== names[i])) return false;
  }
  for (const [p, hash] of Object.entries(reads.read)) {
    let data: Buffer;
    try {
      data = repo.read(p);
    } catch {
      return false;
    }
    if (sha256(data) !== hash) return false;
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
  catalog: Catalog;
  /** The catalog came from the cache. */
  hit: boolean;
  /** Store a freshly compiled catalog (no-op on a hit); call only where writing state_dir is allowed. */
  save(): Promise<void>;
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
): Promise<Compiled> {
  const root = realpathSync(resolve(dir));
  const key = keyOf(root, node, facts);
  const path = join(stateDir, CACHE_FILE);
  const cached = await load(path, key, dir);
  if (cached) return { catalog: cached, hit: true, save: async () => {} };

  const [{ compileOrThrow }, { assertRepoDir }] = await Promise.all([
    import("../core/compile.js"),
    import("./compile-local.js"),
  ]);
  assertRepoDir(dir);
  const { repo, reads } = recording(fsRepo(dir));
  const catalog = compileOrThrow(repo, node, facts);
  return {
    catalog,
    hit: false,
    save: async () => {
      const body: CacheFile = { format: FORMAT, key, reads, catalog };
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      await atomicWrite(path, Buffer.from(JSON.stringify(body)), { mode: 0o600 });
    },
  };
}

async function load(path: string, key: string, dir: string): Promise<Catalog | null> {
  let data: Partial<CacheFile>;
  try {
    data = JSON.parse(readFileSync(path, "utf8")) as Partial<CacheFile>;
  } catch {
    return null; // missing, unreadable or torn: compile
  }
  if (data?.format !== FORMAT || data.key !== key || !isReads(data.reads)) return null;
  if (!unchanged(fsRepo(dir), data.reads)) return null;
  const { isValid } = await import("../core/schema.js");
  return isValid("catalog", data.catalog) ? (data.catalog as Catalog) : null;
}
