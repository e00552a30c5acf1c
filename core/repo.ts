/**
 * A recipe repository as the compiler sees it: a read-only tree of files, addressed by
 * repository-relative POSIX paths. The agent backs it with the file system (agent/repo-fs.ts), the
 * server with git objects (server/git/). Synchronous on purpose: a repository is small and read
 * whole; the compiler stays simple and fast.
 */
import type { Problem } from "./errors.js";

export interface RepoEntry {
  type: "file" | "dir" | "symlink";
}

export interface RepoSource {
  /** A short label for messages, e.g. the folder or `commit abc1234`. */
  label: string;
  /** The entry at `path` (no symlinks followed), or undefined. */
  stat(path: string): RepoEntry | undefined;
  /** Bytes of a regular file; throws when it is not one. */
  read(path: string): Buffer;
  /** Names in a directory, sorted; empty when it is not one. */
  list(path: string): string[];
  /**
   * An id of the file's exact content (git's blob id), when the source knows one: parse results
   * are then shared between snapshots holding the same file (the server's branches).
   */
  contentId?(path: string): string | undefined;
  /** Size in bytes of a regular file (known without reading it), or undefined when it is not one. */
  size(path: string): number | undefined;
  /** The largest file a recipe may name or hold (bytes); DEFAULT_MAX_FILE_BYTES when unset. */
  readonly maxFileBytes?: number;
  /**
   * The sha256 of a file's bytes, worked out without holding them in memory (read in chunks, or
   * known already). When a source has it, the compiler asks it for a file over STREAM_FILE_BYTES
   * instead of reading the file, and the catalog lists that file by size and hash only: its bytes
   * travel as a stream (server to agent, content store to the managed path), never as one buffer.
   */
  sha256?(path: string): string;
}

/**
 * Files larger than this are streamed: hashed in chunks by the compiler, served from git by the
 * server, downloaded to disk and copied into place by the agent, each with a small fixed buffer.
 * Smaller files travel inline in the catalog (or in the server's database), as they always have.
 */
export const STREAM_FILE_BYTES = 1024 * 1024;

/**
 * The default largest recipe file: the agent's catalog cap. A larger file would be held whole in
 * memory by the compiler, the server and the agent; big artifacts belong in an `archive` resource
 * (a URL and its sha256), fetched by the node itself.
 */
export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;

/** The limit from `TEND_MAX_FILE_BYTES` (the CLI's override), else the default. */
export function maxFileBytesFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TEND_MAX_FILE_BYTES;
  const n = raw === undefined || raw === "" ? Number.NaN : Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_MAX_FILE_BYTES;
}

/** `n` bytes for a person, rounded: 600.0 MiB, 64.0 MiB, 512 bytes. */
export function sizeText(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/**
 * The problem of a file over the repository's size limit, or null. Asked before a file is read, so
 * a 600 MB file is refused at validate time without being loaded.
 */
export function tooLarge(repo: RepoSource, path: string, what: string): Problem | null {
  const size = repo.size(path);
  const limit = repo.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (size === undefined || size <= limit) return null;
  return {
    code: "TEND_E_FILE_TOO_LARGE",
    message:
      `${what} is ${sizeText(size)}, over the ${sizeText(limit)} a recipe file may hold; ` +
      "serve a large artifact with an `archive` resource (its URL and sha256) instead of keeping it in the repository, " +
      "or raise the limit (server.yaml `catalog.max_file_bytes`; TEND_MAX_FILE_BYTES for the command line)",
  };
}
